"""The importer end to end on real files: counts add up, duplicates merge, nothing is lost."""
from __future__ import annotations

import csv
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from leadctl.errors import InputError, UsageError
from leadctl.ingest.batches import list_batches, undo_batch
from leadctl.ingest.headers import load_mapping
from leadctl.ingest.importer import ImportOptions, import_leads
from leadctl.store import models

from conftest import EXAMPLES, write_csv

NOW = __import__("datetime").datetime(2026, 11, 20, 10, 0)


def count(store, model=models.Lead, *where) -> int:
    t = model.__table__
    with store.connect() as conn:
        return conn.execute(select(func.count()).select_from(t).where(*where)).scalar_one()


def lead(store, **by):
    t = models.Lead.__table__
    with store.connect() as conn:
        return conn.execute(select(t).where(*(t.c[k] == v for k, v in by.items()))).one()._mapping


def adds_up(r) -> bool:
    return r.read == r.created + r.updated + r.merged + r.unchanged + r.rejected


def test_examples_import_every_row_accounted_for(store, rules, tmp_path):
    r = import_leads(store, [str(EXAMPLES / "hubspot_contacts.csv"), str(EXAMPLES / "webform_leads.json")],
                     ImportOptions(rejects=str(tmp_path / "rej.csv")), rules, now=NOW)
    assert adds_up(r)
    # examples/README.md: 6 in-file duplicates in the CSV and 2 repeat submissions in the
    # JSON carry two ids of one system: possible duplicates, not merged; 20 JSON people
    # already came from the CSV; 7 + 3 rows name nobody.
    assert (r.read, r.created, r.merged, r.rejected, r.possible_duplicates) == (260, 230, 20, 10, 8)
    assert count(store) == r.created
    # Sources are canonicalised through sources.yaml (google/adwords → Google Ads).
    t = models.Lead.__table__
    with store.connect() as conn:
        sources = {s for (s,) in conn.execute(select(t.c.source).distinct())}
    assert "google" not in sources and "adwords" not in sources and "Google Ads" in sources
    # Re-importing the same files in the same order changes nothing.
    again = import_leads(store, [str(EXAMPLES / "hubspot_contacts.csv"), str(EXAMPLES / "webform_leads.json")],
                         ImportOptions(rejects=str(tmp_path / "rej2.csv")), rules, now=NOW)
    assert adds_up(again)
    assert again.created == 0
    assert count(store) == r.created


def test_reimport_of_one_file_is_all_unchanged(store, rules, tmp_path):
    path = str(EXAMPLES / "hubspot_contacts.csv")
    first = import_leads(store, [path], ImportOptions(rejects=str(tmp_path / "r.csv")), rules, now=NOW)
    again = import_leads(store, [path], ImportOptions(rejects=str(tmp_path / "r.csv")), rules, now=NOW)
    assert (again.created, again.updated, again.merged) == (0, 0, 0)
    assert again.unchanged == first.read - first.rejected


def test_merge_rules_empty_never_overwrites_newer_wins(store, rules, tmp_path):
    a = write_csv(tmp_path / "a.csv", ["Email", "Phone", "Company", "Job Title"],
                  [["Ada@Example.com", "+44 20 7946 0958", "Acme", "CTO"]])
    b = write_csv(tmp_path / "b.csv", ["Email", "Phone", "Company", "Job Title"],
                  [[" ada@example.COM ", "", "Acme Ltd", ""]])
    import_leads(store, [a], ImportOptions(), rules, now=NOW)
    r = import_leads(store, [b], ImportOptions(), rules, now=NOW)
    assert (r.updated, r.created) == (1, 0)
    row = lead(store, email="ada@example.com")
    assert row["phone"] == "+442079460958"      # empty value did not overwrite
    assert row["title"] == "CTO"
    assert row["company"] == "Acme Ltd"          # newer non-empty value won


def test_undo_restores_updated_fields_and_deletes_created(store, rules, tmp_path):
    a = write_csv(tmp_path / "a.csv", ["Email", "Company"], [["ada@example.com", "Acme"]])
    b = write_csv(tmp_path / "b.csv", ["Email", "Company"], [["ada@example.com", "Globex"],
                                                              ["grace@example.com", "Navy"]])
    import_leads(store, [a], ImportOptions(), rules, now=NOW)
    r = import_leads(store, [b], ImportOptions(), rules, now=NOW)
    assert (r.created, r.updated) == (1, 1)
    undone = undo_batch(store, r.batch)
    assert (len(undone.deleted), undone.leads_restored) == (1, 1)
    assert lead(store, email="ada@example.com")["company"] == "Acme"
    assert count(store) == 1
    assert [b["status"] for b in list_batches(store)][:1] == ["undone"]


def test_rejects_and_warnings_go_to_the_rejects_file(store, rules, tmp_path):
    src = write_csv(tmp_path / "in.csv", ["Email", "Phone", "Employees", "Notes"], [
        ["ok@example.com", "", "lots", "=HYPERLINK(\"http://x\")"],
        ["john at acme.com", "", "5", ""],
        ["", "", "", "nobody"],
    ])
    r = import_leads(store, [src], ImportOptions(), rules, now=NOW)
    assert (r.read, r.created, r.rejected, r.warnings) == (3, 1, 2, 2)
    rows = list(csv.reader(open(src + ".rejects.csv", encoding="utf-8")))
    assert rows[0][:5] == ["row", "status", "reason", "field", "value"]
    by_row = {(x[0], x[1]): x for x in rows[1:]}
    assert by_row[("1", "warning")][3] == "employees"
    assert by_row[("2", "rejected")][2].startswith("no valid e-mail, phone, external id or LinkedIn profile")
    assert by_row[("3", "rejected")][2].startswith("no valid e-mail, phone, external id or LinkedIn profile")
    # The raw value stays with the lead; the formula is neutralised in the CSV.
    assert lead(store, email="ok@example.com")["attributes"]["employees"] == "lots"
    assert "'=HYPERLINK" in open(src + ".rejects.csv", encoding="utf-8").read()


def test_strict_rejects_rows_with_bad_values(store, rules, tmp_path):
    src = write_csv(tmp_path / "in.csv", ["Email", "Employees"], [["a@example.com", "lots"], ["b@example.com", "5"]])
    r = import_leads(store, [src], ImportOptions(strict=True), rules, now=NOW)
    assert (r.created, r.rejected) == (1, 1)


def test_modes_create_and_update(store, rules, tmp_path):
    a = write_csv(tmp_path / "a.csv", ["Email", "Company"], [["a@example.com", "A"]])
    b = write_csv(tmp_path / "b.csv", ["Email", "Company"], [["a@example.com", "B"], ["new@example.com", "N"]])
    import_leads(store, [a], ImportOptions(), rules, now=NOW)
    r = import_leads(store, [b], ImportOptions(mode="create", rejects=str(tmp_path / "c.csv")), rules, now=NOW)
    assert (r.created, r.rejected, r.updated) == (1, 1, 0)
    r = import_leads(store, [b], ImportOptions(mode="update", rejects=str(tmp_path / "u.csv")), rules, now=NOW)
    assert adds_up(r)
    assert r.updated == 1 and r.created == 0
    with pytest.raises(UsageError):
        import_leads(store, [b], ImportOptions(mode="merge"), rules, now=NOW)


def test_composite_match_key(store, rules, tmp_path):
    a = write_csv(tmp_path / "a.csv", ["First Name", "Last Name", "Company", "Phone", "Country"],
                  [["Ada", "Lovelace", "Acme", "+44 20 7946 0958", "GB"]])
    b = write_csv(tmp_path / "b.csv", ["First Name", "Last Name", "Company", "Phone", "Country"],
                  [["ada", "LOVELACE", "acme", "+44 20 7946 0000", "GB"]])
    import_leads(store, [a], ImportOptions(), rules, now=NOW)
    r = import_leads(store, [b], ImportOptions(match="first_name+last_name+company"), rules, now=NOW)
    assert (r.created, r.updated) == (0, 1)


def test_dry_run_writes_nothing(store, rules, tmp_path):
    src = str(EXAMPLES / "hubspot_contacts.csv")
    r = import_leads(store, [src], ImportOptions(dry_run=True, rejects=str(tmp_path / "r.csv")), rules, now=NOW)
    assert r.created > 100 and r.batch is None
    assert count(store) == 0 and count(store, models.Batch) == 0
    assert not (tmp_path / "r.csv").exists()


def test_outcome_import_with_mapping_moves_stages(store, rules, tmp_path):
    import_leads(store, [str(EXAMPLES / "hubspot_contacts.csv")], ImportOptions(rejects=str(tmp_path / "r.csv")),
                 rules, now=NOW)
    mapping = load_mapping(str(EXAMPLES / "closed_deals.mapping.yaml"))
    r = import_leads(store, [str(EXAMPLES / "closed_deals.csv")],
                     ImportOptions(mode="update", mapping=mapping, match=",".join(mapping.match),
                                   rejects=str(tmp_path / "deals.csv")), rules, now=NOW)
    assert adds_up(r) and r.created == 0
    # examples/README.md: 24 deals close their lead; Record ID 99999 matches nobody.
    assert (r.updated, r.rejected) == (24, 1)
    sh = models.StageChange.__table__
    assert count(store, models.StageChange, sh.c.to_stage == "customer", sh.c.cause == "import") >= 1


def test_bad_input_is_one_clear_error(store, rules, tmp_path):
    with pytest.raises(InputError, match="no such file"):
        import_leads(store, [str(tmp_path / "missing.csv")], ImportOptions(), rules, now=NOW)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError):
        import_leads(store, [str(empty)], ImportOptions(), rules, now=NOW)
    truncated = tmp_path / "t.json"
    truncated.write_text('[{"email": "a@example.com"}, {"email": ')
    with pytest.raises(InputError):
        import_leads(store, [str(truncated)], ImportOptions(), rules, now=NOW)
    assert count(store) == 0


# --- real exports -------------------------------------------------------------------------

def test_olist_leads_and_closed_deals(store, rules, shared_data, tmp_path):
    olist = shared_data / "real" / "olist-marketing-funnel"
    mqls = olist / "olist_marketing_qualified_leads_dataset.csv"
    r = import_leads(store, [str(mqls)], ImportOptions(overrides={"mql_id": "external_id"},
                     rejects=str(tmp_path / "r.csv")), rules, now=NOW)
    n = sum(1 for _ in csv.DictReader(open(mqls, encoding="utf-8")))
    assert r.read == n and adds_up(r)
    assert r.created + r.merged == n - r.rejected
    deals = olist / "olist_closed_deals_dataset.csv"
    mapping_file = tmp_path / "deals.yaml"
    mapping_file.write_text("columns:\n  mql_id: external_id\n  won_date: stage_at\n"
                            "defaults: {stage: customer}\nmatch: [external_id]\n")
    mapping = load_mapping(str(mapping_file))
    d = import_leads(store, [str(deals)], ImportOptions(mode="update", mapping=mapping, match="external_id",
                     rejects=str(tmp_path / "d.csv")), rules, now=NOW)
    assert adds_up(d) and d.created == 0
    won = count(store, models.Lead, models.Lead.__table__.c.stage == "customer")
    assert won == d.updated + d.merged


@pytest.mark.parametrize("variant", ["", "excel-resaved-variant"])
def test_maven_pipeline(store, rules, shared_data, tmp_path, variant):
    path = shared_data / "real" / "maven-crm-sales-opportunities" / variant / "sales_pipeline.csv"
    r = import_leads(store, [str(path)], ImportOptions(rejects=str(tmp_path / "r.csv")), rules, now=NOW)
    n = sum(1 for _ in csv.DictReader(open(path, encoding="utf-8-sig")))
    assert r.read == n and adds_up(r)
    assert r.created == n - r.rejected - r.merged
    # opportunity_id is the external id; deal stages map through stage aliases.
    stages = dict(_stage_counts(store))
    assert stages.get("customer", 0) > 0 and stages.get("lost", 0) > 0


def _stage_counts(store):
    t = models.Lead.__table__
    with store.connect() as conn:
        return conn.execute(select(t.c.stage, func.count()).group_by(t.c.stage)).all()


@pytest.mark.slow
def test_100k_generated_leads_add_up(store, rules, shared_data, tmp_path):
    path = tmp_path / "leads.csv"
    with open(path, "w") as fh:
        subprocess.run([sys.executable, str(shared_data / "gen_leads.py"), "100000"], stdout=fh, check=True)
    r = import_leads(store, [str(path)], ImportOptions(default_region="US", rejects=str(tmp_path / "r.csv")),
                     rules, now=NOW)
    assert r.read == 100000 and adds_up(r)
    assert count(store) == r.created
    # The generator's duplicates merge; its broken e-mails and dates become warnings
    # (those rows still carry a phone number, so they are imported on it).
    assert r.merged > 3000 and r.warnings > 0
    statuses = [row[1] for row in csv.reader(open(tmp_path / "r.csv", encoding="utf-8")) if len(row) > 1]
    assert statuses.count("rejected") == r.rejected
    assert statuses.count("warning") == r.warnings


def test_stage_moves_by_import_close_the_previous_history_row(store, rules, tmp_path):
    a = write_csv(tmp_path / "a.csv", ["Email", "Lead Status", "Create Date"],
                  [["ada@example.com", "New", "2026-10-01"]])
    b = write_csv(tmp_path / "b.csv", ["Email", "Lead Status", "Stage Date"],
                  [["ada@example.com", "SQL", "2026-11-01 09:00"]])
    import_leads(store, [a], ImportOptions(), rules, now=NOW)
    import_leads(store, [b], ImportOptions(), rules, now=NOW)
    sh = models.StageChange.__table__
    with store.connect() as conn:
        rows = conn.execute(select(sh.c.to_stage, sh.c.at, sh.c.left_at).order_by(sh.c.at)).all()
    assert [r.to_stage for r in rows] == ["new", "sql"]
    assert rows[0].left_at == rows[1].at and rows[1].left_at is None


def test_two_ids_of_one_system_are_two_leads(store, rules, tmp_path):
    a = write_csv(tmp_path / "a.csv", ["Record ID", "Email"], [["51638", "ethan@example.com"]])
    b = write_csv(tmp_path / "b.csv", ["Record ID", "Email"], [["52202", "Ethan@example.com"]])
    import_leads(store, [a], ImportOptions(), rules, now=NOW)
    r = import_leads(store, [b], ImportOptions(), rules, now=NOW)
    assert (r.created, r.possible_duplicates) == (1, 1)
    again = import_leads(store, [b], ImportOptions(), rules, now=NOW)
    assert again.unchanged == 1


def test_a_lead_keeps_its_first_external_id_and_is_found_by_every_id(store, rules, tmp_path):
    from leadctl.engine.leadref import resolve_lead

    a = write_csv(tmp_path / "a.csv", ["Record ID", "Email"], [["51638", "ethan@example.com"]])
    b = write_csv(tmp_path / "b.csv", ["mql_id", "Email"], [["m-77", "Ethan@example.com"]])
    import_leads(store, [a], ImportOptions(), rules, now=NOW)
    import_leads(store, [b], ImportOptions(), rules, now=NOW)
    row = lead(store, email="ethan@example.com")
    assert row["external_id"] == "51638"
    assert row["attributes"]["other_external_ids"] == "m-77"
    assert resolve_lead(store, "m-77") == resolve_lead(store, "51638") == row["id"]
    again = import_leads(store, [b], ImportOptions(), rules, now=NOW)
    assert again.unchanged == 1
