"""Privacy and security: erasure leaves no trace in the files, lead data is private to its
owner, user values never become SQL, secrets and tracebacks stay out of stderr."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from .conftest import query
from tests.conftest import sqlite_only

PERSON = {
    "email": "zelda.quux-4711@erase-me.example",
    "phone": "+4930999888777",
    "first": "Zeldaqux",
    "last": "Quuxington",
    "external": "EXT-ERASE-4711",
    "notes": "prefers-calls-after-nine-zq",
}
NOTE = "confidential-activity-note-zq"
URL = "https://tracking.example/private-path-zq-4711"


def _person_csv(tmp_path: Path) -> Path:
    p = tmp_path / "person.csv"
    p.write_text(
        "Email,Phone,First Name,Last Name,External ID,Notes,Lead Source,Company\n"
        f"{PERSON['email']},{PERSON['phone']},{PERSON['first']},{PERSON['last']},{PERSON['external']},"
        f"{PERSON['notes']},Webinar,Acme\n"
        "other@example.com,,Other,Person,,,Referral,Globex\n",
        encoding="utf-8")
    return p


@sqlite_only
def test_forget_erases_personal_data_from_every_file(tmp_path, cli, db_url):
    src = _person_csv(tmp_path)
    assert cli("import", str(src), "--output-format", "json").code == 0
    r = cli("activity", "log", PERSON["email"], "page_view", "--note", NOTE, "--field", f"url={URL}")
    assert r.code == 0, r.err
    (lead_id,) = query(db_url, "SELECT id FROM leads WHERE email = :e", e=PERSON["email"])[0]
    stages_before = query(db_url, "SELECT to_stage, at FROM stage_history WHERE lead_id = :i ORDER BY id", i=lead_id)

    r = cli("leads", "forget", PERSON["email"], "--yes")
    assert r.code == 0, r.err

    # anonymous facts stay: source, company, stage history, times
    row = query(db_url, "SELECT source, company, created_at, erased_at, email, phone, first_name, last_name, "
                        "external_id, attributes FROM leads WHERE id = :i", i=lead_id)[0]
    assert row[0] == "Webinar" and row[1] == "Acme" and row[2] is not None and row[3] is not None
    assert all(v in (None, "null") for v in row[4:])
    assert query(db_url, "SELECT to_stage, at FROM stage_history WHERE lead_id = :i ORDER BY id",
                 i=lead_id)[:len(stages_before)] == stages_before
    assert query(db_url, "SELECT count(*) FROM activities WHERE lead_id = :i", i=lead_id) == [(1,)]
    # the erasure is recorded, with no personal data in the record
    erasures = query(db_url, "SELECT * FROM erasures WHERE lead_id = :i", i=lead_id)
    assert len(erasures) == 1
    assert not any(v in str(erasures) for v in (*PERSON.values(), NOTE, URL))

    # nothing left in the database file, its WAL or its shared-memory file
    for suffix in ("", "-wal", "-shm", "-journal"):
        f = Path(db_url + suffix)
        if not f.exists():
            continue
        data = f.read_bytes()
        for value in (*PERSON.values(), NOTE, URL, "erase-me.example"):
            for enc in ("utf-8", "utf-16-le"):
                assert value.encode(enc) not in data, f"{value!r} still in {f.name}"

    # a later import of the same person creates a new lead; the erased one is not resurrected
    r = cli("import", str(src), "--output-format", "json")
    assert r.code == 0, r.err
    summary = json.loads(r.out)
    assert summary["created"] == 1 and summary["unchanged"] == 1
    assert query(db_url, "SELECT email FROM leads WHERE id = :i", i=lead_id) == [(None,)]
    assert len(query(db_url, "SELECT id FROM leads WHERE email = :e", e=PERSON["email"])) == 1


@sqlite_only
def test_database_and_lead_files_are_owner_only_even_with_permissive_umask(tmp_path, cli, db_url):
    old = os.umask(0o022)
    try:
        src = tmp_path / "in.csv"
        src.write_text("Email,First Name\na@example.com,Ada\n,NoId\n", encoding="utf-8")
        assert cli("import", str(src), "--output-format", "json").code == 0
        out_csv, out_json = tmp_path / "export.csv", tmp_path / "export.json"
        assert cli("export", "leads", "--format", "csv", "--output", str(out_csv)).code == 0
        assert cli("export", "leads", "--format", "json", "--output", str(out_json)).code == 0
        rep = tmp_path / "funnel.csv"
        assert cli("report", "funnel", "--format", "csv", "--output", str(rep)).code == 0
        files = [Path(db_url), Path(str(src) + ".rejects.csv"), out_csv, out_json]
        files += [Path(db_url + s) for s in ("-wal", "-shm") if Path(db_url + s).exists()]
        for f in files:
            assert f.exists(), f
            mode = stat.S_IMODE(f.stat().st_mode)
            assert mode & 0o077 == 0, f"{f.name} is {oct(mode)}"
        # A report holds aggregates meant to be shared: the user's normal file mode.
        assert stat.S_IMODE(rep.stat().st_mode) == 0o644
    finally:
        os.umask(old)


SQLI = ["'; DROP TABLE leads; --", "%", "_", "\\", "' OR '1'='1", '"; DELETE FROM leads; --']


def test_sql_metacharacters_are_data_everywhere(tmp_path, cli, db_url):
    src = tmp_path / "sqli.csv"
    lines = ["Email,Phone,First Name,Last Name,Company,Lead Source,Stage,External ID,Notes"]
    for i, v in enumerate(SQLI):
        q = '"' + v.replace('"', '""') + '"'
        lines.append(f"sqli{i}@example.com,,{q},{q},{q},{q},{q},{q},{q}")
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = cli("import", str(src), "--output-format", "json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["created"] == len(SQLI)
    for i, v in enumerate(SQLI):
        got = query(db_url, "SELECT first_name, last_name, company, external_id, attributes FROM leads "
                    "WHERE email = :e", e=f"sqli{i}@example.com")
        first, last, company, ext, attributes = got[0]
        attributes = json.loads(attributes) if isinstance(attributes, str) else (attributes or {})
        # a value that is no name (`%`) is kept, verbatim, under attributes with a warning
        assert first == v or attributes.get("first_name") == v, got
        assert last == v or attributes.get("last_name") == v, got
        assert (company, ext) == (v, v), got

    for opt in ("--search", "--stage", "--source", "--owner"):
        for v in SQLI:
            r = cli("leads", "list", opt, v, "--format", "json")
            assert r.code in (0, 1, 2), r.err
            assert "Traceback" not in r.err and "internal error" not in r.err, (opt, v, r.err)
            if r.code == 0 and opt in ("--search", "--source"):
                rows = json.loads(r.out or "[]")
                if opt == "--source":  # exact match, not LIKE: % and _ match nothing else
                    assert all(x.get("source") == v for x in rows), (opt, v, rows)
    # `%` and `_` are literal in a text search: only the leads that contain them
    r = cli("leads", "list", "--search", "%", "--format", "json")
    assert r.code == 0, r.err
    assert {x["email"] for x in json.loads(r.out)} == {"sqli1@example.com"}
    r = cli("leads", "list", "--search", "_", "--format", "json")
    assert {x["email"] for x in json.loads(r.out)} == {"sqli2@example.com"}
    assert query(db_url, "SELECT count(*) FROM leads") == [(len(SQLI),)]


def test_rule_values_with_sql_metacharacters_are_data(tmp_path, cli, db_url, rules_dir):
    src = tmp_path / "in.csv"
    src.write_text("Email,Company\na@example.com,\"x' OR '1'='1\"\nb@example.com,Plain\n", encoding="utf-8")
    (rules_dir / "scoring.yaml").write_text(
        "version: 1\n"
        "fit:\n"
        "  rules:\n"
        "    - name: sqli company\n"
        "      when: {company: \"x' OR '1'='1\"}\n"
        "      points: 7\n"
        "    - name: like wildcard\n"
        "      when: {company: {contains: \"%\"}}\n"
        "      points: 100\n", encoding="utf-8")
    r = cli("rules", "check")
    assert r.code == 0, r.err
    r = cli("import", str(src), "--output-format", "json")
    assert r.code == 0, r.err
    scores = dict(query(db_url, "SELECT email, fit_score FROM leads"))
    assert scores["a@example.com"] == 7 and scores["b@example.com"] == 0, scores
    assert query(db_url, "SELECT count(*) FROM leads") == [(2,)]


@sqlite_only
def test_internal_error_shows_a_traceback_only_with_leadctl_debug(tmp_path):
    db = tmp_path / "corrupt.db"
    db.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    env = {**os.environ, "LEADCTL_DB": str(db), "LEADCTL_RULES": str(tmp_path)}
    env.pop("LEADCTL_DEBUG", None)
    cmd = [sys.executable, "-m", "leadctl", "leads", "list"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and r.stderr.startswith("error: "), r.stderr
    assert len(r.stderr.splitlines()) <= 2
    r = subprocess.run(cmd, env={**env, "LEADCTL_DEBUG": "1"}, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "Traceback" in r.stderr, r.stderr
    # a traceback never shows local variables (they hold people's data)
    assert "locals" not in r.stderr.lower() and "│" not in r.stderr


def test_smtp_password_never_appears_in_output(tmp_path, cli, db_url):
    src = tmp_path / "in.csv"
    src.write_text("Email,First Name,Lead Source,Title,Employees\na@example.com,Ada,Webinar,CEO,5000\n",
                   encoding="utf-8")
    assert cli("import", str(src)).code == 0
    # far in the future, so every follow-up is due and a send is attempted (and fails: port 1)
    r = cli("--now", "2099-01-01T09:00:00", "followups", "remind", "--smtp", "smtp://user:s3cret@127.0.0.1:1")
    assert r.code == 1 and "cannot send" in r.err, (r.out, r.err)
    assert "s3cret" not in r.out + r.err and "Traceback" not in r.err
    r = cli("followups", "remind", "--smtp", "smtp://user:s3cret@127.0.0.1:1", "--webhook",
            "http://127.0.0.1:1/hook?token=s3cret")
    assert "s3cret" not in r.out + r.err
