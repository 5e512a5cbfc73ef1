"""Hostile and broken input files through `leadctl import`: each has one expected outcome.

The corpus lives in tests/data/bad/ (small files); big ones (a 5 MB field, 1,000
columns, an encoding error after the first chunk) are generated into tmp_path.
Every case first imports one seed lead, so "the store is unchanged" is checked
against a store that holds something.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import BAD, query, read_rejects

NO_ID = "no valid e-mail, phone, external id or LinkedIn profile"

# file → expected outcome.
#   error:    substring of the one-line `error: <file>: …` message; exit 1, store unchanged
#   counts:   the import summary's counts (others must be 0), exit 0
#   rejected: {row: reason substring} — exactly the rows with status "rejected"
#   warnings: {row: reason substring} — rows that must carry a warning
#   leads:    {email: {column: value}} checked in the store afterwards
CORPUS: dict[str, dict] = {
    "empty.csv": {"error": "file is empty"},
    "blank_lines.csv": {"error": "file is empty"},
    "bom_only.csv": {"error": "file is empty"},
    "whitespace.json": {"error": "file is empty"},
    "header_only.csv": {"counts": {"read": 0}},
    "empty_list.json": {"counts": {"read": 0}},
    "duplicate_headers.csv": {
        "counts": {"read": 2, "created": 2},
        "leads": {"a@example.com": {"first_name": "Ada"}, "c@example.com": {"phone": "+4930123456"}},
        "attributes": {"a@example.com": {"email_2": "b@example.com"}},
    },
    "ragged_rows.csv": {
        "counts": {"read": 4, "created": 4},
        "warnings": {2: "more cells than the header"},
        "leads": {"short@example.com": {"first_name": "Ada", "last_name": None},
                  "ok@example.com": {"company": "Globex"}},
        "attributes": {"long@example.com": {"_extra": "extra1,extra2"}},
    },
    "nul_control.csv": {
        "counts": {"read": 3, "created": 3},
        "leads": {"nul@example.com": {"first_name": "Ada"}, "bell@example.com": {}, "vt@example.com": {}},
    },
    "binary_garbage.csv": {"error": "not a text file"},
    "utf16_bom.csv": {
        "counts": {"read": 2, "created": 2},
        "leads": {"zoe@example.com": {"first_name": "Zoë", "city": "Zürich"},
                  "soren@example.com": {"city": "København"}},
    },
    "latin1_no_hint.csv": {
        "counts": {"read": 2, "created": 2},
        "leads": {"muller@example.com": {"city": "Düsseldorf"}, "francois@example.com": {"first_name": "François"}},
    },
    "mixed_line_endings.csv": {
        "counts": {"read": 4, "created": 4},
        "leads": {"crlf@example.com": {}, "lf@example.com": {}, "cr@example.com": {"first_name": "Cr"},
                  "last@example.com": {"first_name": "Lana"}},
    },
    "unterminated_quote.csv": {"error": "unterminated quote"},
    "truncated.json": {"error": "invalid JSON"},
    "scalar.json": {"error": "single value"},
    "string_scalar.json": {"error": "single value"},
    "object_no_list.json": {"error": "no list of records"},
    "list_of_non_objects.json": {"error": "not an object"},
    "deep_nesting.json": {"error": "nested too deeply"},
    "deep_list_nesting.json": {"error": "nested too deeply"},
    "broken_line.jsonl": {
        "counts": {"read": 5, "created": 3, "rejected": 2},
        "rejected": {2: "invalid JSON", 4: "not an object"},
        "leads": {"one@example.com": {}, "three@example.com": {}, "four@example.com": {"phone": "+4930123456"}},
    },
    "jsonl_all_broken.jsonl": {
        "counts": {"read": 2, "rejected": 2},
        "rejected": {1: "invalid JSON", 2: "invalid JSON"},
    },
    "unicode_emails.csv": {
        # user@bücher.de and user@xn--bcher-kva.de are one address (IDNA), carried by two names:
        # a shared address, so two leads (ingest.identity), never one
        "counts": {"read": 8, "created": 5, "merged": 0, "rejected": 3},
        "rejected": {6: "'not-an-email' is invalid", 7: "'a@b' is invalid", 8: "is invalid"},
    },
    "phones.csv": {
        "counts": {"read": 18, "created": 12, "rejected": 6},
        # a value no region reads is "not a phone number"; never a readable number called invalid
        "rejected": {12: "phone 'call me' is not a phone number", 13: "phone '12' is not a phone number",
                     14: "is not a phone number", 15: "unknown country code", 17: "is not a phone number",
                     18: "phone '=1+1' is not a phone number"},
        "phones": {"P0": "+12125550101", "P1": "+12125550102", "P2": "+12125550103", "P3": "+442079460958",
                   "P4": "+442079460959"},
    },
    "dates.csv": {
        "counts": {"read": 5, "created": 5},
        "warnings": {1: "implausible date", 2: "implausible date", 3: "unreadable date '2025-02-30'",
                     4: "unreadable date"},
    },
    "numbers.csv": {
        "counts": {"read": 6, "created": 6},
        "warnings": {1: "out of range '1e309'", 2: "not a number 'NaN'", 4: "not a number", 5: "out of range"},
        "leads": {"negzero@example.com": {"employees": 0}, "ok@example.com": {"employees": 1200}},
    },
    "formulas.csv": {
        "counts": {"read": 3, "created": 2, "rejected": 1},
        "rejected": {3: NO_ID},
        # stored as typed; neutralised only where it is written out (the rejects file, exports)
        "leads": {"f1@example.com": {"company": "@SUM(A1:A9)"}, "f2@example.com": {"company": "=1+1"}},
    },
    "rtl_emoji.csv": {
        "counts": {"read": 3, "created": 3},
        "leads": {"rtl@example.com": {"first_name": "דנה", "last_name": "العربية"},
                  "emoji@example.com": {"first_name": "😀 Ada", "company": "🦄 Inc"}},
    },
    "sql_metachars.csv": {
        "counts": {"read": 1, "created": 1},
        # `%_\` has no letters: not a name, kept verbatim as attributes.last_name
        "leads": {"o'brien@example.com": {"first_name": "'; DROP TABLE leads; --", "last_name": None,
                                          "company": "Robert'); DELETE FROM leads;--",
                                          "source": "src' OR '1'='1"}},
    },
    "semicolon_bom_excel.csv": {"counts": {"read": 1, "created": 1},
                                "leads": {"bom@example.com": {"first_name": "Bom"}}},
    # no column for an e-mail, phone, id or profile URL: refused before any row is read
    "no_identifiers.csv": {"error": "no column gives an e-mail, phone, external id or LinkedIn URL"},
}


def _generate(name: str, path: Path) -> None:
    if name == "big_field.csv":  # one 5 MB notes cell, quoted, with commas and newlines inside
        note = ("x" * 998 + ",\n") * 5 * 1024  # 5 MiB
        path.write_text(f'Email,Notes\nbig@example.com,"{note}"\nsmall@example.com,ok\n', encoding="utf-8")
    elif name == "thousand_columns.csv":
        header = ["Email"] + [f"col{i}" for i in range(1, 1000)]
        row = ["wide@example.com"] + [f"v{i}" for i in range(1, 1000)]
        path.write_text(",".join(header) + "\n" + ",".join(row) + "\n", encoding="utf-8")
    elif name == "bad_utf8_after_first_chunk.csv":  # the importer commits in chunks of 5,000 rows
        rows = b"".join(b"u%d@example.com,Ada\n" % i for i in range(12000))
        path.write_bytes(b"Email,First Name\n" + rows + b"bad@example.com,B\xff\xfeb\n")
    elif name == "deep_jsonl_line.jsonl":
        path.write_text('{"email": "ok@example.com"}\n' + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    else:  # pragma: no cover
        raise AssertionError(name)


GENERATED: dict[str, dict] = {
    "big_field.csv": {"counts": {"read": 2, "created": 2}, "leads": {"big@example.com": {}}},
    "thousand_columns.csv": {
        "counts": {"read": 1, "created": 1},
        "attributes": {"wide@example.com": {"col1": "v1", "col999": "v999"}},
    },
    "bad_utf8_after_first_chunk.csv": {"error": "cannot decode as utf-8"},
    "deep_jsonl_line.jsonl": {"counts": {"read": 2, "created": 1, "rejected": 1}, "rejected": {2: "nested too deeply"}},
}


def test_corpus_is_complete():
    on_disk = {p.name for p in BAD.iterdir() if p.is_file()}
    assert on_disk == set(CORPUS), "every file in tests/data/bad/ needs an expected outcome (and vice versa)"
    assert len(CORPUS) + len(GENERATED) >= 25
    assert max(p.stat().st_size for p in BAD.iterdir()) < 16 * 1024  # keep committed files small


def _lead_count(db_url: str) -> int:
    return query(db_url, "SELECT count(*) FROM leads")[0][0]


@pytest.mark.parametrize("name", sorted(CORPUS) + sorted(GENERATED))
def test_bad_input(name, tmp_path, cli, db_url):
    expected = CORPUS.get(name) or GENERATED[name]
    seed = tmp_path / "seed.csv"
    seed.write_text("Email,First Name\nseed@example.com,Seed\n", encoding="utf-8")
    assert cli("import", str(seed), "--output-format", "json").code == 0
    before_leads = _lead_count(db_url)
    before_complete = query(db_url, "SELECT count(*) FROM batches WHERE status = 'complete'")[0][0]

    path = tmp_path / name
    if name in CORPUS:
        shutil.copyfile(BAD / name, path)
    else:
        _generate(name, path)
    r = cli("import", str(path), "--output-format", "json")

    if "error" in expected:
        assert r.code == 1, (r.out, r.err)
        assert r.out == ""
        lines = r.err.splitlines()
        assert lines[0].startswith(f"error: {path}:") and expected["error"] in lines[0], r.err
        assert all(line.startswith(("error: ", "hint: ")) for line in lines) and len(lines) <= 2, r.err
        assert "Traceback" not in r.err
        assert _lead_count(db_url) == before_leads
        assert query(db_url, "SELECT count(*) FROM batches WHERE status = 'complete'")[0][0] == before_complete
        assert query(db_url, "SELECT email FROM leads") == [("seed@example.com",)]
        return

    assert r.code == 0, r.err
    summary = json.loads(r.out)
    counts = {"read": 0, "created": 0, "updated": 0, "merged": 0, "unchanged": 0, "rejected": 0}
    counts.update(expected["counts"])
    assert {k: summary[k] for k in counts} == counts
    assert summary["read"] == sum(summary[k] for k in ("created", "updated", "merged", "unchanged", "rejected"))
    assert _lead_count(db_url) == before_leads + counts["created"]

    rejects_path = Path(str(path) + ".rejects.csv")
    rows = read_rejects(rejects_path) if rejects_path.exists() else []
    rejected = {int(x["row"]): x["reason"] for x in rows if x["status"] == "rejected"}
    assert set(rejected) == set(expected.get("rejected", {}))
    for row, why in expected.get("rejected", {}).items():
        assert why in rejected[row], (row, rejected[row])
    warned: dict[int, list[str]] = {}
    for x in rows:
        if x["status"] == "warning":
            warned.setdefault(int(x["row"]), []).append(x["reason"])
    for row, why in expected.get("warnings", {}).items():
        assert any(why in w for w in warned.get(row, [])), (row, warned.get(row))
    for x in rows:  # the rejects file is spreadsheet-safe
        cells = [v for k, v in x.items() if k is not None] + (x.get(None) or [])
        assert not any(v.startswith(("=", "@")) for v in cells if v), x

    for email, columns in expected.get("leads", {}).items():
        cols = list(columns) or ["id"]
        found = query(db_url, f"SELECT {', '.join(cols)} FROM leads WHERE email = :e", e=email)
        assert len(found) == 1, email
        assert dict(zip(cols, found[0])) == (columns or dict(zip(cols, found[0]))), email
    for email, attrs in expected.get("attributes", {}).items():
        (raw,) = query(db_url, "SELECT attributes FROM leads WHERE email = :e", e=email)[0]
        stored = raw if isinstance(raw, dict) else json.loads(raw)
        assert {k: stored.get(k) for k in attrs} == attrs
    for first, phone in expected.get("phones", {}).items():
        assert query(db_url, "SELECT phone FROM leads WHERE first_name = :f", f=first) == [(phone,)]
    if name == "big_field.csv":
        (raw,) = query(db_url, "SELECT attributes FROM leads WHERE email = 'big@example.com'")[0]
        stored = raw if isinstance(raw, dict) else json.loads(raw)
        assert len(stored["notes"]) > 5_000_000
