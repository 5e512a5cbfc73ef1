"""The column plan through a real import: each row takes the first readable candidate, preambles are
skipped, the plan is shown, and a file the plan cannot serve stops before any row is read."""
from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from leadctl.errors import InputError, UsageError
from leadctl.ingest.headers import load_mapping
from leadctl.ingest.importer import ImportOptions, import_leads
from leadctl.store import models

from hardening.conftest import cli, query, rules_dir  # noqa: F401 - the CLI test helpers (fixtures)

NOW = datetime(2026, 11, 20, 10, 0)


def write_csv(path: Path, header: list[str], rows: list[list[str]], preamble: str = "") -> str:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(preamble)
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def leads(store) -> dict[str, dict]:
    """Every lead by e-mail (or by its id when it has none)."""
    t = models.Lead.__table__
    with store.connect() as conn:
        out = {}
        for rec in conn.execute(select(t)):
            m = dict(rec._mapping)
            out[m["email"] or str(m["id"])] = m
        return out


def run(store, rules, tmp_path, path: str, **options):
    options.setdefault("rejects", str(tmp_path / "rejects.csv"))
    return import_leads(store, [path], ImportOptions(**options), rules, now=NOW)


def read_rejects(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------- per-row choice

def test_each_row_takes_the_first_readable_phone_and_keeps_the_others(store, rules, tmp_path):
    # Apollo: `Mobile Phone` is empty in most rows, `Corporate Phone` holds the numbers.
    path = write_csv(tmp_path / "apollo.csv",
                     ["Email", "Mobile Phone", "Corporate Phone", "Home Phone"],
                     [["a@x.com", "", "+1 415 555 0100", ""],
                      ["b@x.com", "+1 415 555 0199", "+1 415 555 0101", ""],
                      ["c@x.com", "n/a", "", "+1 415 555 0102"],
                      ["d@x.com", "", "", ""]])
    r = run(store, rules, tmp_path, path)
    assert (r.created, r.rejected, r.warnings) == (4, 0, 0)
    got = leads(store)
    assert got["a@x.com"]["phone"] == "+14155550100"
    assert got["a@x.com"]["attributes"] is None
    # both numbers present: the corporate phone ranks first; the mobile stays, under its own header
    assert got["b@x.com"]["phone"] == "+14155550101"
    assert got["b@x.com"]["attributes"] == {"mobile_phone": "+1 415 555 0199"}
    assert got["c@x.com"]["phone"] == "+14155550102"  # a placeholder is no phone
    assert got["d@x.com"]["phone"] is None


def test_lead_source_ranks_before_lead_origin_and_an_empty_one_falls_through(store, rules, tmp_path):
    path = write_csv(tmp_path / "scoring.csv", ["Email", "Lead Origin", "Lead Source"],
                     [["a@x.com", "Landing Page Submission", "Google"],
                      ["b@x.com", "API", ""],
                      ["c@x.com", "", "Referral"]])
    r = run(store, rules, tmp_path, path)
    assert r.created == 3
    got = leads(store)
    assert got["a@x.com"]["source"] == "Google Ads"  # sources.yaml canonicalises `Google`
    assert got["a@x.com"]["attributes"] == {"lead_origin": "Landing Page Submission"}
    assert got["b@x.com"]["source"] == "API"
    assert got["c@x.com"]["source"] == "Referral" and got["c@x.com"]["attributes"] is None


def test_contact_company_empty_takes_the_associated_company(store, rules, tmp_path):
    path = write_csv(tmp_path / "hubspot.csv", ["Record ID - Contact", "Email", "Company Name", "Company name"],
                     [["101", "a@x.com", "", "Acme Corp"], ["102", "b@x.com", "Beta Ltd", "Beta Holding"]])
    r = run(store, rules, tmp_path, path)
    assert r.created == 2
    got = leads(store)
    assert got["a@x.com"]["company"] == "Acme Corp" and got["a@x.com"]["external_id"] == "101"
    assert got["b@x.com"]["company"] == "Beta Ltd"
    assert got["b@x.com"]["attributes"] == {"company_name_2": "Beta Holding"}


def test_an_unparseable_candidate_gives_way_without_a_warning(store, rules, tmp_path):
    path = write_csv(tmp_path / "emails.csv", ["Email 1", "Email 2", "Country", "Country Code", "Phone"],
                     [["not an email", "b@x.com", "Atlantis", "DE", "+49 30 1234567"],
                      ["c@x.com", "c.private@y.com", "France", "", ""],
                      ["bad@", "", "", "", "+49 30 7654321"]])
    r = run(store, rules, tmp_path, path)
    assert (r.created, r.rejected) == (3, 0)
    got = leads(store)
    assert got["b@x.com"]["country"] == "DE"
    assert got["b@x.com"]["attributes"] == {"email_1": "not an email", "country": "Atlantis"}
    assert got["c@x.com"]["attributes"] == {"email_2": "c.private@y.com"}
    # readable nowhere: the first value is the one reported, and kept under its own header
    rows = read_rejects(tmp_path / "rejects.csv")
    assert [(x["row"], x["status"], x["field"]) for x in rows] == [("3", "warning", "email")]
    phoned = [lead for lead in got.values() if lead["phone"] == "+49307654321"]
    assert phoned and phoned[0]["attributes"] == {"email_1": "bad@"}


def test_stage_candidates_fall_through_to_a_status_the_stages_know(store, rules, tmp_path):
    path = write_csv(tmp_path / "stages.csv", ["Email", "Lead Status", "Lifecycle Stage"],
                     [["a@x.com", "In Progress", "salesqualifiedlead"], ["b@x.com", "Customer", ""]])
    run(store, rules, tmp_path, path, collect_ids=False)
    got = leads(store)
    assert got["a@x.com"]["stage"] == "sql"
    assert got["a@x.com"]["attributes"] == {"lead_status": "In Progress"}
    assert got["b@x.com"]["stage"] == "customer"


def test_explicit_map_beats_aliases(store, rules, tmp_path):
    path = write_csv(tmp_path / "m.csv", ["Email", "Work Email", "Lead Source"],
                     [["home@x.com", "work@x.com", "Web"], ["home2@x.com", "", "Web"]])
    r = run(store, rules, tmp_path, path, overrides={"Work Email": "email"})
    # `Email` is an attribute once --map names the e-mail column: the second row has none
    assert (r.created, r.rejected) == (1, 1)
    got = leads(store)
    assert got["work@x.com"]["attributes"] == {"email": "home@x.com"}


def test_mapping_file_columns_and_aliases(store, rules, tmp_path):
    mapping = tmp_path / "map.yaml"
    mapping.write_text("aliases:\n  email: [Courriel pro]\ncolumns:\n  Canal: source\n  Origine: source\n")
    path = write_csv(tmp_path / "salon.csv", ["Courriel pro", "Origine", "Canal", "Entreprise"],
                     [["a@x.fr", "Salon", "", "Acme"], ["b@x.fr", "Salon", "Web", "Beta"]])
    run(store, rules, tmp_path, path, mapping=load_mapping(str(mapping)))
    got = leads(store)
    assert got["a@x.fr"]["source"] == "Salon" and got["a@x.fr"]["company"] == "Acme"
    assert got["b@x.fr"]["source"] == "Web" and got["b@x.fr"]["attributes"] == {"origine": "Salon"}


def test_odoo_crm_lead_headers(store, rules, tmp_path):
    path = write_csv(tmp_path / "crm.lead.csv",
                     ["id", "name", "contact_name", "partner_name", "email_from", "country_id/id", "country_id",
                      "user_id/id", "user_id", "function", "create_date"],
                     [["__export__.crm_lead_1", "Interest in your products", "Ana García", "Acme MX",
                       "ana@acme.mx", "base.mx", "Mexico", "base.user_admin", "Mitchell Admin", "CTO",
                       "2026-03-01 10:00:00"]])
    r = run(store, rules, tmp_path, path)
    assert r.created == 1
    lead = leads(store)["ana@acme.mx"]
    assert (lead["company"], lead["country"], lead["owner"], lead["title"]) == ("Acme MX", "MX", "Mitchell Admin",
                                                                                "CTO")
    assert lead["external_id"] == "__export__.crm_lead_1"
    assert (lead["first_name"], lead["last_name"]) == ("Ana", "García")  # contact_name, not the lead's title
    assert lead["created_at"] == datetime(2026, 3, 1, 10, 0)
    assert lead["attributes"]["name"] == "Interest in your products"


# --------------------------------------------------------------------------- preamble

LINKEDIN_NOTES = ('Notes:\n"When exporting your connection data, you may notice that some of the email addresses '
                  'are missing. You will only see email addresses for connections who have allowed it."\n\n')


def test_linkedin_connections_preamble_is_skipped(store, rules, tmp_path):
    path = write_csv(tmp_path / "Connections.csv",
                     ["First Name", "Last Name", "URL", "Email Address", "Company", "Position", "Connected On"],
                     [["Ada", "Lovelace", "https://www.linkedin.com/in/ada-lovelace", "ada@x.org", "Analytical",
                       "Engineer", "15 Mar 2024"],
                      ["Alan", "Turing", "https://www.linkedin.com/in/alan-turing", "alan@x.org", "Bletchley",
                       "Cryptanalyst", "01 Jan 2023"],
                      ["Nobody", "", "", "", "", "", "02 Jan 2023"]],
                     preamble=LINKEDIN_NOTES)
    r = run(store, rules, tmp_path, path)
    assert r.preamble_lines == 3
    assert r.read == 3  # the notes are not rows
    assert r.rejected == 1
    assert (r.plans[0]["file"], r.plans[0]["preamble_lines"]) == (path, 3)
    assert r.plans[0]["fields"]["linkedin"] == ["URL"]
    got = leads(store)
    assert got["ada@x.org"]["linkedin"] == "https://www.linkedin.com/in/ada-lovelace"
    assert got["ada@x.org"]["title"] == "Engineer"
    assert got["ada@x.org"]["created_at"] == datetime(2024, 3, 15)
    # the rejected row is numbered as the file's line minus one (the header is line 4)
    assert [x["row"] for x in read_rejects(tmp_path / "rejects.csv") if x["status"] == "rejected"] == ["6"]


# --------------------------------------------------------------------------- failing loudly

def test_no_identity_column_stops_before_any_row(store, rules, tmp_path):
    path = write_csv(tmp_path / "people.csv", ["First Name", "Last Name", "Company"], [["Ada", "L", "X"]])
    with pytest.raises(InputError) as e:
        run(store, rules, tmp_path, path)
    assert e.value.file == path and "First Name, Last Name, Company" in e.value.message
    assert not (tmp_path / "rejects.csv").exists()
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(models.Lead.__table__)).scalar_one() == 0
    # --map gives the file an identity column
    r = run(store, rules, tmp_path, path, overrides={"Company": "external_id"})
    assert r.created == 1


def test_map_of_an_absent_column_is_a_usage_error(store, rules, tmp_path):
    path = write_csv(tmp_path / "x.csv", ["E-mail", "Name"], [["a@x.com", "Ada"]])
    with pytest.raises(UsageError) as e:
        run(store, rules, tmp_path, path, overrides={"Emial": "email"})
    assert "'Emial'" in e.value.message and "'E-mail'" in e.value.message


def test_cli_failures_exit_codes_and_messages(cli, tmp_path, db_url):  # noqa: F811 - fixture from the CLI helpers
    people = write_csv(tmp_path / "people.csv", ["First Name", "Last Name"], [["Ada", "L"]])
    r = cli("import", people)
    assert r.code == 1 and r.out == ""
    first = r.err.splitlines()[0]
    assert first.startswith(f"error: {people}: no column gives") and "First Name, Last Name" in first
    assert '--map "Column=email"' in r.err

    ok = write_csv(tmp_path / "ok.csv", ["E-mail", "Name"], [["a@x.com", "Ada"]])
    r = cli("import", ok, "--map", "Zzz=email")
    assert r.code == 2 and "'Zzz'" in r.err and "its columns: E-mail, Name" in r.err
    r = cli("import", ok, "--map", "Mail=email")
    assert r.code == 2 and "close matches: 'E-mail'" in r.err
    assert query(db_url, "SELECT count(*) FROM leads") == [(0,)]


def test_strict_with_rejects_exits_1_after_writing_rejects_and_summary(cli, tmp_path, db_url):  # noqa: F811 - fixture from the CLI helpers
    path = write_csv(tmp_path / "s.csv", ["Email", "Employees"], [["a@x.com", "12"], ["b@x.com", "lots"]])
    r = cli("import", path, "--strict", "--output-format", "json")
    assert r.code == 1
    summary = json.loads(r.out)
    assert (summary["created"], summary["rejected"]) == (1, 1)
    assert "1 row(s) rejected with --strict" in r.err and "s.csv.rejects.csv" in r.err
    assert Path(path + ".rejects.csv").exists()
    assert query(db_url, "SELECT email FROM leads") == [("a@x.com",)]
    clean = write_csv(tmp_path / "c.csv", ["Email"], [["c@x.com"]])
    assert cli("import", clean, "--strict").code == 0


# --------------------------------------------------------------------------- the plan, shown

def test_json_summary_carries_warnings_preamble_and_plan(cli, tmp_path):  # noqa: F811 - fixture from the CLI helpers
    path = write_csv(tmp_path / "Connections.csv", ["First Name", "URL", "Email Address", "Notes"],
                     [["Ada", "https://www.linkedin.com/in/ada", "ada@x.org", "hi"],
                      ["Bob", "", "bob@x.org", ""]], preamble=LINKEDIN_NOTES)
    extra = write_csv(tmp_path / "b.csv", ["Email", "Work Email", "Employees"], [["c@x.com", "", "many"]])
    r = cli("import", path, extra, "--output-format", "json")
    assert r.code == 0, r.err
    summary = json.loads(r.out)
    for key in ("batch", "read", "created", "updated", "merged", "unchanged", "rejected"):  # docs/json.md's keys
        assert key in summary
    assert summary["read"] == sum(summary[k] for k in ("created", "updated", "merged", "unchanged", "rejected"))
    assert (summary["warnings"], summary["preamble_lines"]) == (1, 3)
    assert summary["plan"] == [
        {"file": path, "preamble_lines": 3, "fields": {"first_name": ["First Name"],
                                                       "email": ["Email Address"], "linkedin": ["URL"]},
         "attributes": {"Notes": "notes"}, "ignored": []},
        {"file": extra, "preamble_lines": 0, "fields": {"email": ["Email", "Work Email"], "employees": ["Employees"]},
         "attributes": {}, "ignored": []},
    ]
    assert summary["plan"][0]["fields"] == {"email": ["Email Address"], "first_name": ["First Name"],
                                           "linkedin": ["URL"]}
    assert list(summary["plan"][0]["fields"]) == ["email", "first_name", "linkedin"]  # in field order


def test_dry_run_table_shows_the_plan(cli, tmp_path, db_url, monkeypatch):  # noqa: F811 - fixture from the CLI helpers
    monkeypatch.setenv("LEADCTL_WIDTH", "250")  # the title names the file: one line, however deep tmp_path is
    path = write_csv(tmp_path / "x.csv", ["Lead Origin", "Email", "Lead Source", "Budget"],
                     [["API", "a@x.com", "Web", "10k"]], preamble="Exported by X\n\n")
    r = cli("import", path, "--dry-run")
    assert r.code == 0, r.err
    assert f"Columns of {path} (header row below 2 line(s) of notes)" in r.out
    lines = r.out.splitlines()
    assert any("source" in line and "Lead Source, Lead Origin" in line for line in lines)
    assert any("attributes" in line and "Budget" in line for line in lines)
    assert "skipped 2 line(s) of notes" in r.err
    assert query(db_url, "SELECT count(*) FROM leads") == [(0,)]


def test_a_map_of_an_absent_column_leaves_no_batch(cli, tmp_path, db_url):  # noqa: F811 - fixture from the CLI helpers
    ok = write_csv(tmp_path / "ok.csv", ["E-mail", "Name"], [["a@x.com", "Ada"]])
    assert cli("import", ok, "--map", "Mail=email").code == 2
    assert query(db_url, "SELECT count(*) FROM batches") == [(0,)]
