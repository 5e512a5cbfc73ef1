"""Identity at import: different people never become one lead, every identifier finds its lead,
and a file imported again changes nothing wherever its duplicates fall."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from leadctl.engine.leadref import resolve_lead
from leadctl.errors import NotFoundError
from leadctl.ingest import importer
from leadctl.ingest.importer import ImportOptions, import_leads
from leadctl.store import models

from conftest import write_csv

NOW = datetime(2026, 11, 20, 10, 0)
LEADS = models.Lead.__table__


def leads(store) -> list[dict]:
    with store.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(LEADS).order_by(LEADS.c.id))]


def possible(store) -> list[dict]:
    t = models.PossibleDuplicate.__table__
    with store.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(t))]


def imp(store, rules, *paths, **opts):
    return import_leads(store, [str(p) for p in paths], ImportOptions(**opts), rules, now=NOW)


def test_a_shared_switchboard_phone_never_merges_two_emails(store, rules, tmp_path):
    f = write_csv(tmp_path / "x.csv", ["Email", "Phone"], [["ann@acme.com", "+1 415 555 0100"],
                                                          ["bob@acme.com", "+1 415 555 0100"]])
    r = imp(store, rules, f)
    assert (r.created, r.merged, r.possible_duplicates) == (2, 0, 1)
    assert sorted(lead["email"] for lead in leads(store)) == ["ann@acme.com", "bob@acme.com"]
    assert "same phone" in possible(store)[0]["reason"]
    # against the store too: a third colleague on the switchboard is a third lead
    g = write_csv(tmp_path / "y.csv", ["Email", "Phone"], [["cy@acme.com", "(415) 555-0100"]])
    assert imp(store, rules, g, default_region="US").created == 1


def test_a_phone_only_row_joins_the_lead_with_that_name(store, rules, tmp_path):
    f = write_csv(tmp_path / "x.csv", ["First Name", "Last Name", "Email", "Phone"], [
        ["Ann", "Lee", "ann@acme.com", "+1 415 555 0100"],
        ["Bob", "Ray", "", "+1 415 555 0100"],
        ["Ann", "Lee", "", "+1 415 555 0100"],
    ])
    r = imp(store, rules, f)
    assert (r.created, r.merged) == (2, 1)
    assert {(lead["first_name"], lead["email"]) for lead in leads(store)} == {("Ann", "ann@acme.com"), ("Bob", None)}


def test_a_placeholder_email_shared_by_different_people(store, rules, tmp_path):
    people = [("Ann", "Lee", "Acme"), ("Bob", "Ray", "Acme"), ("Cy", "Oh", "Globex"), ("Di", "Wu", "Initech"),
              ("Ed", "Fox", "Umbrella"), ("Flo", "Hu", "Hooli"), ("Gus", "Ng", "Hooli")]
    f = write_csv(tmp_path / "x.csv", ["First Name", "Last Name", "Company", "Email"],
                  [[a, b, c, "a@a.com"] for a, b, c in people])
    r = imp(store, rules, f)
    assert (r.created, r.merged, r.rejected) == (7, 0, 0)
    stored = leads(store)
    assert sorted(lead["first_name"] for lead in stored) == sorted(p[0] for p in people)
    assert all(lead["email"] is None and lead["attributes"]["placeholder_email"] == "a@a.com" for lead in stored)
    assert r.warnings >= 7
    again = imp(store, rules, f)
    assert (again.unchanged, again.created) == (7, 0)


def test_an_email_carried_by_rows_with_different_names_is_not_an_identity(store, rules, tmp_path):
    f = write_csv(tmp_path / "x.csv", ["Name", "Email"], [["Ann Lee", "info@acme.com"], ["Bob Ray", "INFO@acme.com"]])
    r = imp(store, rules, f)
    assert r.created == 2
    assert imp(store, rules, f).unchanged == 2


def test_two_ids_of_one_system_never_merge_and_both_are_found(store, rules, tmp_path):
    f = write_csv(tmp_path / "x.csv", ["Id", "Email", "Last Name"], [["00Q1", "ann@acme.com", "Lee"],
                                                                    ["00Q2", "ann@acme.com", "Lee"]])
    r = imp(store, rules, f)
    assert (r.created, r.possible_duplicates) == (2, 1)
    assert resolve_lead(store, "00Q1") != resolve_lead(store, "00Q2")
    with pytest.raises(NotFoundError, match="several leads"):
        resolve_lead(store, "ann@acme.com")


def test_an_id_from_another_system_is_kept_and_finds_the_lead(store, rules, tmp_path):
    a = write_csv(tmp_path / "a.csv", ["Record ID", "Email"], [["51638", "ann@acme.com"]])
    b = write_csv(tmp_path / "b.csv", ["Lead ID", "Email", "Title"], [["00QX", "ANN@acme.com", "CTO"]])
    imp(store, rules, a)
    r = imp(store, rules, b)
    assert (r.created, r.updated) == (0, 1)
    lid = resolve_lead(store, "51638")
    assert resolve_lead(store, "00QX") == resolve_lead(store, "ext:00qx") == lid
    assert imp(store, rules, b).unchanged == 1


def test_a_replaced_phone_still_finds_the_lead(store, rules, tmp_path):
    a = write_csv(tmp_path / "a.csv", ["Email", "Phone", "First Name"], [["ann@acme.com", "+44 20 7946 0001", "Ann"]])
    b = write_csv(tmp_path / "b.csv", ["Email", "Phone"], [["ann@acme.com", "+44 20 7946 0002"]])
    c = write_csv(tmp_path / "c.csv", ["Phone", "First Name", "Title"], [["+44 20 7946 0001", "Ann", "CEO"]])
    imp(store, rules, a)
    imp(store, rules, b)
    r = imp(store, rules, c)
    assert (r.created, r.updated) == (0, 1)
    assert leads(store)[0]["title"] == "CEO"


def test_linkedin_profile_is_an_identity(store, rules, tmp_path):
    f = write_csv(tmp_path / "x.csv", ["First Name", "Last Name", "URL"], [
        ["Ann", "Lee", "https://www.linkedin.com/in/ann-lee-123"],
        ["Ann", "Lee", "linkedin.com/in/Ann-Lee-123/?trk=x"],
        ["Ann", "Lee", "https://www.linkedin.com/in/ann-lee-456"],
    ])
    r = imp(store, rules, f)
    assert (r.created, r.merged) == (2, 1)
    assert resolve_lead(store, "https://linkedin.com/in/ANN-LEE-123") == 1


@pytest.mark.parametrize("chunk", [2, 3, 1000])
def test_reimport_changes_nothing_wherever_duplicates_fall(store, rules, tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(importer, "CHUNK", chunk)
    rows = [["ann@acme.com", "Acme", "lead"], ["bob@acme.com", "Bobco", ""], ["cy@acme.com", "Cyco", ""],
            ["ANN@acme.com", "Acme Inc", ""], ["dee@acme.com", "", ""], ["ann@acme.com", "", "opportunity"],
            ["bob@acme.com", "Bobco Ltd", ""]]
    f = write_csv(tmp_path / "x.csv", ["Email", "Company", "Lifecycle Stage"], rows)
    g = write_csv(tmp_path / "y.csv", ["Email", "Company"], [["cy@acme.com", "Cy Corp"], ["eve@acme.com", "E"]])
    first = imp(store, rules, f, g)
    assert (first.created, first.merged) == (5, 4)
    by_email = {lead["email"]: lead for lead in leads(store)}
    assert by_email["ann@acme.com"]["company"] == "Acme Inc"
    assert by_email["bob@acme.com"]["company"] == "Bobco Ltd"
    assert by_email["cy@acme.com"]["company"] == "Cy Corp"
    assert all(lead["stage_changed_at"] is not None for lead in leads(store))
    again = imp(store, rules, f, g)
    assert (again.unchanged, again.updated, again.merged, again.created) == (9, 0, 0, 0)
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(models.BatchChange.__table__)).scalar_one() == 0


def test_a_duplicate_in_a_later_chunk_keeps_stage_changed_at(store, rules, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "CHUNK", 2)
    a = write_csv(tmp_path / "a.csv", ["Email"], [["ann@acme.com"], ["bob@acme.com"]])
    imp(store, rules, a)
    b = write_csv(tmp_path / "b.csv", ["Email", "Title"], [["x@acme.com", ""], ["y@acme.com", ""],
                                                          ["ann@acme.com", "CEO"]])
    imp(store, rules, b)
    assert all(lead["stage_changed_at"] is not None for lead in leads(store))


def test_leads_an_interrupted_import_left_unprocessed_are_processed_next_time(store, rules, tmp_path):
    f = write_csv(tmp_path / "x.csv", ["Email"], [["ann@acme.com"], ["bob@acme.com"]])
    imp(store, rules, f)  # as an import killed before processing leaves them: no explanation
    again = imp(store, rules, f)
    assert again.unchanged == 2 and again.lead_ids == {1, 2}
    with store.begin() as conn:
        conn.execute(LEADS.update().values(explanation={"fp": "x"}))
    assert imp(store, rules, f).lead_ids == set()


def test_a_number_that_is_an_id_and_another_leads_external_id_is_refused(store, rules, tmp_path):
    f = write_csv(tmp_path / "x.csv", ["Id", "Email"], [["7", "ann@acme.com"], ["1", "bob@acme.com"]])
    imp(store, rules, f)
    with pytest.raises(NotFoundError, match="id:1 or ext:1"):
        resolve_lead(store, "1")
    assert resolve_lead(store, "id:1") == 1
    assert resolve_lead(store, "ext:1") == 2
    assert resolve_lead(store, "7") == 1


def test_activities_find_leads_by_every_identifier_and_never_guess_a_shared_phone(store, rules, tmp_path):
    from leadctl.ingest.activities import import_activities

    a = write_csv(tmp_path / "a.csv", ["Record ID", "Email", "Phone"], [["51638", "ann@acme.com", "+1 415 555 0100"],
                                                                       ["51639", "bob@acme.com", "+1 415 555 0100"]])
    b = write_csv(tmp_path / "b.csv", ["Lead ID", "Email"], [["00QX", "ann@acme.com"]])
    imp(store, rules, a)
    imp(store, rules, b)
    events = write_csv(tmp_path / "e.csv", ["External ID", "Phone", "Type", "Date"], [
        ["00QX", "", "call", "2026-11-19 10:00"],
        ["", "+14155550100", "call", "2026-11-19 11:00"],
    ])
    res = import_activities(store, events, now=NOW, rules=rules)
    assert res.created == 1
    with store.connect() as conn:
        acts = conn.execute(select(models.Activity.__table__.c.lead_id)).all()
    assert [lid for (lid,) in acts] == [resolve_lead(store, "ann@acme.com")]


def test_rows_already_imported_are_unchanged_even_after_later_imports_and_again_after_undo(store, rules, tmp_path):
    from leadctl.ingest.batches import undo_batch

    a = write_csv(tmp_path / "a.csv", ["Email", "Company"], [["ann@acme.com", "Acme"]])
    b = write_csv(tmp_path / "b.csv", ["Email", "Company"], [["ann@acme.com", "OneFinal"]])
    imp(store, rules, a)
    second = imp(store, rules, b)
    again = imp(store, rules, a)  # the old file again does not take the later value back
    assert (again.unchanged, again.updated) == (1, 0)
    assert leads(store)[0]["company"] == "OneFinal"
    undo_batch(store, second.batch, now=NOW)
    assert leads(store)[0]["company"] == "Acme"
    redo = imp(store, rules, b)  # the undone batch's rows are not imported any more
    assert (redo.updated, leads(store)[0]["company"]) == (1, "OneFinal")


def test_an_id_of_another_system_or_a_bare_phone_never_merges_without_a_name(store, rules, tmp_path):
    a = write_csv(tmp_path / "a.csv", ["Record ID", "Email", "Phone"], [["7", "ann@acme.com", "+1 415 555 0100"]])
    b = write_csv(tmp_path / "b.csv", ["id", "Company", "Phone"], [["7", "Beta Inc", "+1 212 555 0199"]])
    c = write_csv(tmp_path / "c.csv", ["Phone", "Company"], [["+1 415 555 0100", "Gamma"]])
    imp(store, rules, a)
    rb, rc = imp(store, rules, b), imp(store, rules, c)
    assert (rb.created, rb.possible_duplicates, rc.created, rc.possible_duplicates) == (1, 1, 1, 1)
    ann = [lead for lead in leads(store) if lead["email"] == "ann@acme.com"][0]
    assert (ann["company"], ann["phone"]) == (None, "+14155550100")


def test_a_cell_with_several_values_keeps_the_first_and_the_others(store, rules, tmp_path):
    f = write_csv(tmp_path / "g.csv", ["Name", "E-mail 1 - Value", "Phone 1 - Value"],
                  [["Anna Berg", "anna@berg.example ::: anna.berg@home.example", "+46 8 123 456 ::: +46 70 123 4567"]])
    r = imp(store, rules, f)
    assert (r.created, r.rejected) == (1, 0)
    lead = leads(store)[0]
    assert (lead["email"], lead["phone"]) == ("anna@berg.example", "+468123456")
    assert lead["attributes"]["other_emails"] == "anna.berg@home.example"
    assert lead["attributes"]["other_phones"] == "+46 70 123 4567"


def test_an_import_never_takes_an_opt_out_back(store, rules, tmp_path):
    a = write_csv(tmp_path / "a.csv", ["Email", "Do Not Contact"], [["ann@acme.com", "yes"]])
    b = write_csv(tmp_path / "b.csv", ["Email", "Do Not Contact", "Title"], [["ann@acme.com", "no", "CTO"]])
    imp(store, rules, a)
    imp(store, rules, b)
    assert (leads(store)[0]["do_not_contact"], leads(store)[0]["title"]) == (True, "CTO")


def test_a_new_lead_is_found_by_the_keys_of_its_row(rules):
    """The import makes a row that shares no key a new lead without matching it (importer._alone): that
    needs the new lead's match columns to be its row's (MergePolicy.new_values adds only others)."""
    from leadctl.fields import MATCHABLE
    from leadctl.ingest.matching import Matcher
    from leadctl.ingest.merge import MergePolicy
    from leadctl.ingest.rows import Row

    values = {"email": "Ann@Ex.example", "phone": "+14155550100", "first_name": "Ann", "last_name": "Lee",
              "company": "Acme", "external_id": "R-1", "linkedin": "linkedin.com/in/ann"}
    assert set(MATCHABLE) <= values.keys()
    row = Row(1, "f.csv", values, {}, "mql", None, {})
    matcher = Matcher(tuple((f,) for f in MATCHABLE) + (("first_name", "last_name", "company"),))
    lead = MergePolicy(rules.stages, NOW, 1).new_values(row)
    assert matcher.value_keys(lead) == matcher.value_keys(values)
