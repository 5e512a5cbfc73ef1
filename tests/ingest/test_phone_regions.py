"""Phones are read by the evidence in the row and the file, in a fixed order, and counted per evidence;
a number nothing reads is kept raw with a warning that names the fix. `leadctl init --region`."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from leadctl.errors import UsageError
from leadctl.ingest import fastpath
from leadctl.ingest.importer import ImportOptions, import_leads
from leadctl.setup import locale_region, project_region, set_region
from leadctl.store import models
from leadctl.store.db import open_store

from conftest import rejects, sqlite_only, write_csv

NOW = __import__("datetime").datetime(2026, 11, 20, 10, 0)


def imp(store, rules, tmp_path, path, **opts):
    return import_leads(store, [path], ImportOptions(rejects=str(tmp_path / "rejects.csv"), **opts), rules, now=NOW)


def phones(store) -> dict[str, str | None]:
    t = models.Lead.__table__
    with store.connect() as conn:
        return {r.email: r.phone for r in conn.execute(select(t.c.email, t.c.phone))}


def attributes(store, email: str) -> dict:
    t = models.Lead.__table__
    with store.connect() as conn:
        return conn.execute(select(t.c.attributes).where(t.c.email == email)).scalar_one() or {}


def test_most_numbers_carry_plus33_so_the_national_ones_are_french(store, rules, tmp_path):
    rows = [[f"p{i}@acme.com", f"+33 1 69 91 42 {10 + i}"] for i in range(6)]
    rows += [["n1@acme.com", "06 12 34 56 78"], ["n2@acme.com", "01 69 91 42 13"]]
    r = imp(store, rules, tmp_path, write_csv(tmp_path / "x.csv", ["Email", "Phone"], rows))
    got = phones(store)
    assert got["n1@acme.com"] == "+33612345678" and got["n2@acme.com"] == "+33169914213"
    assert r.phone_evidence == {"international": 6, "column": 2}
    assert r.warnings == 0 and r.summary()["phones"] == {"international": 6, "column": 2}


def test_numbers_written_with_the_code_but_without_plus(store, rules, tmp_path):
    rows = [["a@salon.com", "33169914213"], ["b@salon.com", "33612345678"], ["c@salon.com", "0033169914214"],
            ["d@salon.com", "33 1 69 91 42 15"], ["e@salon.com", "01 69 91 42 16"]]
    r = imp(store, rules, tmp_path, write_csv(tmp_path / "x.csv", ["Email", "Phone"], rows))
    assert phones(store) == {"a@salon.com": "+33169914213", "b@salon.com": "+33612345678",
                             "c@salon.com": "+33169914214", "d@salon.com": "+33169914215",
                             "e@salon.com": "+33169914216"}
    assert r.phone_evidence == {"column": 4, "international": 1} and r.warnings == 0


def test_the_rows_country_reads_national_numbers(store, rules, tmp_path):
    rows = [["a@x.com", "55 1234 5678", "Mexico"], ["b@x.com", "(415) 555-0123", "United States"],
            ["c@x.com", "030 1234567", "Allemagne"]]
    r = imp(store, rules, tmp_path, write_csv(tmp_path / "x.csv", ["Email", "Phone", "Country"], rows))
    assert phones(store) == {"a@x.com": "+525512345678", "b@x.com": "+14155550123", "c@x.com": "+49301234567"}
    assert r.phone_evidence == {"country": 3}


def test_odoo_country_external_ids(store, rules, tmp_path):
    rows = [["a@x.com", "55 1234 5678", "base.mx"], ["b@x.com", "06 12 34 56 78", "base.fr"]]
    imp(store, rules, tmp_path, write_csv(tmp_path / "x.csv", ["email_from", "phone", "country_id/id"], rows),
        overrides={"email_from": "email", "country_id/id": "country"})
    assert phones(store) == {"a@x.com": "+525512345678", "b@x.com": "+33612345678"}


def test_the_rows_country_comes_before_the_columns_evidence(store, rules, tmp_path):
    rows = [[f"p{i}@x.com", f"+33 6 12 34 56 {10 + i}", ""] for i in range(5)]
    rows += [["us@x.com", "(415) 555-0123", "US"], ["fr@x.com", "06 12 34 56 99", ""]]
    r = imp(store, rules, tmp_path, write_csv(tmp_path / "x.csv", ["Email", "Phone", "Country"], rows))
    got = phones(store)
    assert got["us@x.com"] == "+14155550123" and got["fr@x.com"] == "+33612345699"
    assert r.phone_evidence == {"international": 5, "country": 1, "column": 1}


def test_a_stray_international_number_does_not_make_a_column_foreign(store, rules, tmp_path):
    rows = [[f"p{i}@x.com", f"(415) 555-01{10 + i}"] for i in range(8)] + [["gb@x.com", "+44 20 7946 0958"]]
    r = imp(store, rules, tmp_path, write_csv(tmp_path / "x.csv", ["Email", "Phone"], rows), default_region="US")
    got = phones(store)
    assert got["p0@x.com"] == "+14155550110" and got["gb@x.com"] == "+442079460958"
    assert r.phone_evidence == {"international": 1, "default_region": 8}


def test_the_emails_country_domain_reads_the_number(store, rules, tmp_path):
    rows = [["ann@acme.fr", "06 12 34 56 78", ""], ["bob@acme.com", "06 12 34 56 79", "https://www.acme.de"],
            ["cy@acme.com", "06 12 34 56 70", ""]]
    r = imp(store, rules, tmp_path, write_csv(tmp_path / "x.csv", ["Email", "Phone", "Website"], rows))
    got = phones(store)
    assert got["ann@acme.fr"] == "+33612345678"
    assert got["bob@acme.com"] is not None and got["bob@acme.com"].startswith("+49")  # the website says DE
    assert got["cy@acme.com"] is None  # `.com` says nothing
    assert r.phone_evidence == {"domain": 2, "kept_raw": 1}


def test_default_region_then_the_projects_region(db_url, rules, tmp_path):
    set_region(db_url, "fr", {})
    store = open_store(db_url)
    try:
        assert project_region(store) == "FR"
        rows = [["a@x.com", "06 12 34 56 78"]]
        path = write_csv(tmp_path / "x.csv", ["Email", "Phone"], rows)
        r = imp(store, rules, tmp_path, path)
        assert phones(store) == {"a@x.com": "+33612345678"} and r.phone_evidence == {"project_region": 1}
        rows = [["b@x.com", "(415) 555-0123"]]
        r = imp(store, rules, tmp_path, write_csv(tmp_path / "y.csv", ["Email", "Phone"], rows), default_region="US")
        assert phones(store)["b@x.com"] == "+14155550123" and r.phone_evidence == {"default_region": 1}
    finally:
        store.dispose()


def test_a_number_no_region_reads_is_kept_raw_and_the_warning_names_the_fix(store, rules, tmp_path):
    rows = [["ann@acme.com", "0612345678", ""], ["", "0612345679", "FR-1"], ["", "0612345670", ""]]
    r = imp(store, rules, tmp_path, write_csv(tmp_path / "x.csv", ["Email", "Phone", "Lead ID"], rows))
    assert (r.created, r.rejected) == (2, 1)
    assert attributes(store, "ann@acme.com")["phone"] == "0612345678"
    out = rejects(tmp_path)
    warning = next(x for x in out if x["status"] == "warning" and x["value"] == "0612345678")
    assert warning["reason"].startswith("phone '0612345678' has no country code and the row has no country: "
                                        "pass --default-region ")
    assert "add a Country column" in warning["reason"]
    rejected = next(x for x in out if x["status"] == "rejected")
    for line in (warning["reason"], rejected["reason"]):
        # never libphonenumber's words, and a readable number is never called invalid
        assert "default region" not in line.lower() and "invalid" not in line and "Missing" not in line
    assert "phone '0612345670' has no country code" in rejected["reason"]
    assert r.phone_evidence == {"kept_raw": 3}


def test_the_warning_suggests_the_files_country(store, rules, tmp_path):
    rows = [["a@x.com", "0612345678", "France"], ["b@x.com", "0612345679", ""]]
    imp(store, rules, tmp_path, write_csv(tmp_path / "x.csv", ["Email", "Phone", "Country"], rows))
    (warning,) = [x for x in rejects(tmp_path) if x["status"] == "warning"]
    assert "--default-region FR" in warning["reason"]


@sqlite_only
def test_the_counts_come_back_from_the_reading_worker(rules, tmp_path, monkeypatch):
    rows = [[f"p{i}@acme.com", f"+33 1 69 91 42 {10 + i % 80}"] for i in range(40)] + [["n@acme.com", "06 12 34 56 78"]]
    path = write_csv(tmp_path / "x.csv", ["Email", "Phone"], rows)
    out = []
    for name, min_bytes in (("plain", 1 << 40), ("worker", 0)):
        monkeypatch.setattr(fastpath, "WORKER_MIN_BYTES", min_bytes)
        store = open_store(str(tmp_path / f"{name}.db"))
        r = imp(store, rules, tmp_path, path)
        out.append(r.phone_evidence)
        store.dispose()
    assert out[0] == out[1] == {"international": 40, "column": 1}


def test_summary_line_and_json(db_url, tmp_path, monkeypatch, run_cli):
    monkeypatch.chdir(tmp_path)
    path = write_csv(tmp_path / "x.csv", ["Email", "Phone", "Country"],
                     [["a@x.com", "+33 6 12 34 56 78", ""], ["b@x.com", "06 12 34 56 79", "FR"]])
    env = {"LEADCTL_DB": db_url, "LANG": "C.UTF-8", "LC_ALL": ""}
    assert run_cli("init", env=env).exit_code == 0
    res = run_cli("import", path, "--no-process", "--output-format", "json", env=env)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["phones"] == {"international": 1, "country": 1}
    res = run_cli("import", path, "--no-process", "--dry-run", env=env)
    assert "phones: 1 with their country code, 1 by the row's country" in res.output


# -- leadctl init --region ---------------------------------------------------------------

@pytest.mark.parametrize("env,expected", [
    ({"LANG": "fr_FR.UTF-8"}, "FR"), ({"LC_ALL": "de_DE.UTF-8", "LANG": "en_US.UTF-8"}, "DE"),
    ({"LANG": "pt_BR"}, "BR"), ({"LANG": "C.UTF-8"}, None), ({"LANG": "POSIX"}, None), ({}, None),
    ({"LC_ALL": "C", "LANG": "fr_FR.UTF-8"}, None), ({"LANG": "es_419.UTF-8"}, None),
])
def test_locale_region(env, expected):
    assert locale_region(env)[0] == expected


@pytest.fixture
def init(run_cli, tmp_path):
    """`leadctl init …` in tmp_path with no locale but the one given; the result and the database."""
    def run(*args, **env):
        db = str(tmp_path / "leadctl.db")
        res = run_cli("--db", db, "--rules", tmp_path / "rules", "init", *args,
                      env={"LANG": "", "LC_ALL": "", "LC_TELEPHONE": "", **env})
        return res, db

    return run


def _region(db) -> str | None:
    store = open_store(db)
    try:
        return project_region(store)
    finally:
        store.dispose()


@sqlite_only
def test_init_region(tmp_path, init):
    res, db = init("--region", "fr")
    assert res.exit_code == 0 and "default phone region: FR" in res.output and _region(db) == "FR"
    res, _ = init(LANG="de_DE.UTF-8")  # a region once set is kept
    assert "default phone region: FR (kept" in res.output and _region(db) == "FR"
    res, _ = init("--region", "Mexico")
    assert _region(db) == "MX"


@sqlite_only
def test_init_proposes_the_locales_region_and_says_so(tmp_path, init):
    res, db = init(LANG="fr_FR.UTF-8")
    assert res.exit_code == 0
    assert "default phone region: FR (from the locale fr_FR.UTF-8; change it with `leadctl init --region CC`)" \
        in res.output
    assert _region(db) == "FR"


@sqlite_only
def test_init_without_a_locale_region_says_what_to_do(tmp_path, init):
    res, db = init(LANG="C.UTF-8")
    assert res.exit_code == 0 and "no default phone region" in res.output and "--region CC" in res.output
    assert _region(db) is None


@sqlite_only
def test_init_refuses_an_unknown_region_before_creating_anything(tmp_path, init):
    res, db = init("--region", "XX")
    assert res.code == 2 and res.err.startswith("error: --region: 'XX' is not a country code\nhint: ")
    assert not Path(db).exists() and not (tmp_path / "rules").exists()


def test_an_unknown_default_region_is_a_usage_error(store, rules, tmp_path):
    path = write_csv(tmp_path / "x.csv", ["Email", "Phone"], [["a@x.com", "06 12 34 56 78"]])
    with pytest.raises(UsageError, match="--default-region: 'XX' is not a country code"):
        imp(store, rules, tmp_path, path, default_region="XX")
    with store.connect() as conn:  # refused before a batch is recorded
        assert conn.execute(select(models.Batch.__table__.c.id)).first() is None


def test_activity_import_reads_national_phones_with_the_projects_region(db_url, rules, tmp_path):
    from leadctl.ingest.activities import import_activities

    set_region(db_url, "FR", {})
    store = open_store(db_url)
    try:
        imp(store, rules, tmp_path, write_csv(tmp_path / "x.csv", ["Email", "Phone"], [["a@x.com", "06 12 34 56 78"]]))
        events = write_csv(tmp_path / "events.csv", ["phone", "type", "at"], [["06 12 34 56 78", "call", "2026-11-19"]])
        r = import_activities(store, events, now=NOW, rejects=str(tmp_path / "ev.rejects.csv"))
        assert (r.created, r.rejected) == (1, 0)
    finally:
        store.dispose()
