"""Names split with nameparser (salutations, middle names, suffixes), non-names kept aside,
vendor test rows rejected; status vocabularies of other systems; ambiguous date columns."""
from __future__ import annotations

import random
from datetime import datetime

import pytest
from sqlalchemy import select

from leadctl.ingest import normalize as N
from leadctl.ingest.importer import ImportOptions, import_leads
from leadctl.store import models

from conftest import rejects, write_csv

NOW = datetime(2026, 11, 20, 10, 0)


def imp(store, rules, tmp_path, path, **opts):
    return import_leads(store, [path], ImportOptions(rejects=str(tmp_path / "rejects.csv"), **opts), rules, now=NOW)


def leads(store) -> dict[str, dict]:
    t = models.Lead.__table__
    with store.connect() as conn:
        return {r.email: dict(r._mapping) for r in conn.execute(select(t))}


# -- the parser ------------------------------------------------------------------------

@pytest.mark.parametrize("raw,first,last,extra", [
    ("Jean Pierre Muroni", "Jean Pierre", "Muroni", {}),
    ("Mr HAIDER", None, "HAIDER", {"salutation": "Mr"}),
    ("Mme Claire Dubois", "Claire", "Dubois", {"salutation": "Mme"}),
    ("M. Jean Dupont", "Jean", "Dupont", {"salutation": "M."}),
    ("Herr Dr. Hans Müller", "Hans", "Müller", {"salutation": "Herr Dr."}),
    ("Dr. Ada King Lovelace", "Ada King", "Lovelace", {"salutation": "Dr."}),
    ("John F. Kennedy", "John", "Kennedy", {"middle": "F."}),
    ("María José García López", "María José", "García López", {}),
    ("Ana Paula de Souza", "Ana Paula", "de Souza", {}),
    ("Guido van Rossum", "Guido", "van Rossum", {}),
    ("Lovelace, Ada", "Ada", "Lovelace", {}),
    ("Alan Turing Jr.", "Alan", "Turing", {"suffix": "Jr."}),
    ("Jane Doe, MBA", "Jane", "Doe", {"suffix": "MBA"}),
    ("Sir Elton John", "Elton", "John", {"salutation": "Sir"}),
    ("King Lovelace", "King", "Lovelace", {}),  # King, Dean, Judge are names too
    ("Dean Smith", "Dean", "Smith", {}),
    ("Jack Ma", "Jack", "Ma", {}),
    ("HAIDER", "HAIDER", None, {}),
])
def test_parse_name(raw, first, last, extra):
    name = N.parse_name(raw)
    assert (name.first, name.last) == (first, last)
    assert {k: v for k, v in name._asdict().items() if v and k not in ("first", "last")} == extra


@pytest.mark.parametrize("cell,alone,expected", [
    ("Mr John", True, ("Mr", "John")), ("Mme", True, ("Mme", None)), ("M. Jean", True, ("M.", "Jean")),
    ("M", True, (None, "M")), ("M Jean", True, (None, "M Jean")),  # an initial, not Monsieur
    ("Lord", False, (None, "Lord")), ("Lord", True, (None, "Lord")), ("Mme", False, (None, "Mme")),
    ("Dr. Smith", False, ("Dr.", "Smith")), ("Prof. Dr. Klaus", True, ("Prof. Dr.", "Klaus")),
])
def test_strip_salutation(cell, alone, expected):
    assert N.strip_salutation(cell, alone=alone) == expected


WORDS = ["Ada", "Jean", "Pierre", "Muroni", "María", "José", "García", "Lee", "van", "de", "Mr", "Dr.", "Jr.",
         "III", "F.", "Smith", "O'Neil", "Anne-Marie", "Ma", "Dean", "y", "Müller", "MBA", "Mme"]


def test_fast_path_agrees_with_nameparser():
    rng = random.Random(12)
    for _ in range(3000):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
        assert N.parse_name(text) == N._parse_name_slow(text), text


@pytest.mark.parametrize("raw,kind", [
    ("ann@acme.com", "an e-mail address"), ("@jdoe", "a social media handle"),
    ("https://acme.com/ann", "a web address"),
    ("www.acme.fr", "a web address"), ("Test Test", "a test placeholder"), ("asdf", "a test placeholder"),
    ("12345", "no letters"),
])
def test_not_a_name(raw, kind):
    assert kind in N.not_a_name(raw)


@pytest.mark.parametrize("raw", ["Ann", "Jean-Pierre", "O'Neil", "J.R.", "Testa", "Ada Lovelace"])
def test_names_are_names(raw):
    assert N.not_a_name(raw) is None


# -- on import -------------------------------------------------------------------------

def test_full_names_on_import(store, rules, tmp_path):
    rows = [["a@x.com", "Jean Pierre Muroni"], ["b@x.com", "Mr HAIDER"], ["c@x.com", "Dr. Ada King Lovelace Jr."],
            ["d@x.com", "John F. Kennedy"]]
    r = imp(store, rules, tmp_path, write_csv(tmp_path / "x.csv", ["Email", "Name"], rows))
    assert r.warnings == 0
    got = leads(store)
    assert (got["a@x.com"]["first_name"], got["a@x.com"]["last_name"]) == ("Jean Pierre", "Muroni")
    assert (got["b@x.com"]["first_name"], got["b@x.com"]["last_name"]) == (None, "HAIDER")
    assert got["b@x.com"]["attributes"]["salutation"] == "Mr"
    c = got["c@x.com"]
    assert (c["first_name"], c["last_name"]) == ("Ada King", "Lovelace")
    assert c["attributes"]["salutation"] == "Dr." and c["attributes"]["name_suffix"] == "Jr."
    assert got["d@x.com"]["attributes"]["middle_name"] == "F."


def test_name_columns_with_salutations_and_suffixes(store, rules, tmp_path):
    rows = [["a@x.com", "Mr John", "Smith Jr."], ["b@x.com", "Mme", "Dubois"], ["c@x.com", "Mr HAIDER", ""],
            ["d@x.com", "Ada", "Lovelace"]]
    r = imp(store, rules, tmp_path, write_csv(tmp_path / "x.csv", ["Email", "First Name", "Last Name"], rows))
    assert r.warnings == 0
    got = leads(store)
    assert (got["a@x.com"]["first_name"], got["a@x.com"]["last_name"]) == ("John", "Smith")
    assert got["a@x.com"]["attributes"] == {"salutation": "Mr", "name_suffix": "Jr."}
    assert (got["b@x.com"]["first_name"], got["b@x.com"]["last_name"]) == (None, "Dubois")
    assert got["b@x.com"]["attributes"] == {"salutation": "Mme"}
    assert (got["c@x.com"]["first_name"], got["c@x.com"]["last_name"]) == (None, "HAIDER")
    assert (got["d@x.com"]["first_name"], got["d@x.com"]["last_name"], got["d@x.com"]["attributes"]) == \
        ("Ada", "Lovelace", None)


def test_a_name_that_is_not_a_name_is_kept_aside_and_warned(store, rules, tmp_path):
    rows = [["a@x.com", "a@x.com", "Lee"], ["b@x.com", "@bobby", "Stone"], ["c@x.com", "Cy", "test"]]
    r = imp(store, rules, tmp_path, write_csv(tmp_path / "x.csv", ["Email", "First Name", "Last Name"], rows))
    got = leads(store)
    assert got["a@x.com"]["first_name"] is None and got["a@x.com"]["last_name"] == "Lee"
    assert got["a@x.com"]["attributes"]["first_name"] == "a@x.com"
    assert got["b@x.com"]["first_name"] is None and got["b@x.com"]["attributes"]["first_name"] == "@bobby"
    assert got["c@x.com"]["last_name"] is None and got["c@x.com"]["attributes"]["last_name"] == "test"
    assert r.warnings == 3 and r.created == 3
    reasons = [x["reason"] for x in rejects(tmp_path) if x["status"] == "warning"]
    assert reasons == ["'a@x.com' is an e-mail address, not a name", "'@bobby' is a social media handle, not a name",
                       "'test' is a test placeholder, not a name"]


def test_a_full_name_that_is_an_email(store, rules, tmp_path):
    r = imp(store, rules, tmp_path, write_csv(tmp_path / "x.csv", ["Email", "Full Name"], [["a@x.com", "a@x.com"]]))
    lead = leads(store)["a@x.com"]
    assert lead["first_name"] is None and lead["last_name"] is None and r.warnings == 1
    assert "a@x.com" in lead["attributes"].values()


def test_vendor_test_leads_are_rejected(store, rules, tmp_path):
    header = ["id", "created_time", "full_name", "email", "phone_number"]
    rows = [["l:1", "2026-01-02T10:00:00+0000", "<test lead: dummy data for full_name>", "test@fb.com",
             "<test lead: dummy data for phone_number>"],
            ["l:2", "2026-01-02T11:00:00+0000", "Ann Lee", "ann@x.com", "+1 415 555 0123"],
            ["l:3", "2026-01-02T12:00:00+0000", "Bob Stone", "bob@x.com", "<Test Lead: dummy data for phone>"]]
    r = imp(store, rules, tmp_path, write_csv(tmp_path / "fb.csv", header, rows))
    assert (r.read, r.created, r.rejected) == (3, 1, 2)
    assert [x["reason"] for x in rejects(tmp_path) if x["status"] == "rejected"] == ["vendor test lead"] * 2
    assert set(leads(store)) == {"ann@x.com"}


# -- stages ------------------------------------------------------------------------------

@pytest.mark.parametrize("status,stage", [
    # Salesforce
    ("Open - Not Contacted", "new"), ("Working - Contacted", "new"), ("Closed - Converted", "customer"),
    ("Closed - Not Converted", "lost"),
    # HubSpot lifecycle stages and lead statuses
    ("subscriber", "new"), ("lead", "new"), ("marketingqualifiedlead", "mql"), ("salesqualifiedlead", "sql"),
    ("opportunity", "opportunity"), ("customer", "customer"), ("evangelist", "customer"), ("other", "new"),
    ("New", "new"), ("Open", "new"), ("In Progress", "new"), ("Open Deal", "opportunity"),
    ("Unqualified", "disqualified"), ("Attempted to Contact", "new"), ("Connected", "new"), ("Bad Timing", "new"),
    # Zoho
    ("Contact in Future", "new"), ("Contacted", "new"), ("Junk Lead", "disqualified"), ("Lost Lead", "lost"),
    ("Not Contacted", "new"), ("Pre-Qualified", "mql"), ("Not Qualified", "disqualified"),
    # Pipedrive, Apollo, Odoo
    ("Lead In", "new"), ("Proposal Made", "opportunity"), ("won", "customer"), ("Approaching", "new"),
    ("Interested", "sql"), ("Not Interested", "lost"), ("Qualified", "sql"), ("Proposition", "opportunity"),
    ("Won", "customer"),
    # spreadsheet words
    ("Working", "new"), ("Nurturing", "new"), ("Cold", "new"), ("Proposal Sent", "opportunity"), ("On Hold", "new"),
    ("Pre Qualified", "mql"),
])
def test_default_stages_know_other_systems_statuses(rules, status, stage):
    assert rules.stages.resolve(status) == stage


def test_import_matches_statuses_without_case_or_punctuation(store, rules, tmp_path):
    rows = [["a@x.com", "PRE-QUALIFIED"], ["b@x.com", "closed-converted"], ["c@x.com", "proposal  sent"],
            ["d@x.com", "Junk lead"], ["e@x.com", "closed_won"], ["f@x.com", "Nope"]]
    r = imp(store, rules, tmp_path, write_csv(tmp_path / "x.csv", ["Email", "Lead Status"], rows))
    got = {e: lead["stage"] for e, lead in leads(store).items()}
    assert got == {"a@x.com": "mql", "b@x.com": "customer", "c@x.com": "opportunity", "d@x.com": "disqualified",
                   "e@x.com": "customer", "f@x.com": "new"}
    assert r.warnings == 1  # only "Nope"


def test_import_reads_statuses_in_other_languages(store, rules, tmp_path):
    rows = [["a@x.com", "Nouveau"], ["b@x.com", "Qualifie"], ["c@x.com", "Gagné"], ["d@x.com", "In Bearbeitung"],
            ["e@x.com", "Perdido"], ["f@x.com", "Negociação"]]
    r = imp(store, rules, tmp_path, write_csv(tmp_path / "x.csv", ["Email", "Statut"], rows),
            overrides={"Statut": "stage"})
    got = {e: lead["stage"] for e, lead in leads(store).items()}
    assert got == {"a@x.com": "new", "b@x.com": "sql", "c@x.com": "customer", "d@x.com": "new", "e@x.com": "lost",
                   "f@x.com": "opportunity"}
    assert r.warnings == 0


# -- ambiguous dates -----------------------------------------------------------------------

AMBIGUOUS = ["03/04/2026", "05/06/2026", "01/02/2026", "07/08/2026"]


def _dates(store) -> dict[str, datetime]:
    return {e: lead["created_at"] for e, lead in leads(store).items()}


@pytest.mark.parametrize("countries,day_first", [(["FR", "France", "DE", "GB"], True), (["US"] * 4, False),
                                                 (["FR", "US", "US", "BR"], None)])
def test_ambiguous_dates_follow_the_rows_countries(store, rules, tmp_path, countries, day_first):
    rows = [[f"p{i}@x.com", d, c] for i, (d, c) in enumerate(zip(AMBIGUOUS, countries))]
    r = imp(store, rules, tmp_path, write_csv(tmp_path / "x.csv", ["Email", "Created Date", "Country"], rows))
    expected = datetime(2026, 4, 3) if day_first else datetime(2026, 3, 4)
    assert _dates(store)["p0@x.com"] == expected
    assert r.warnings == (1 if day_first is None else 0)


def test_ambiguous_dates_without_countries_warn_once_for_the_column(store, rules, tmp_path):
    rows = [["", "03/04/2026"], *[[f"p{i}@x.com", d] for i, d in enumerate(AMBIGUOUS)]]  # row 1 is rejected
    r = imp(store, rules, tmp_path, write_csv(tmp_path / "x.csv", ["Email", "Created Date"], rows))
    assert _dates(store)["p0@x.com"] == datetime(2026, 3, 4)  # month first
    assert r.warnings == 1
    (warning,) = [x for x in rejects(tmp_path) if x["status"] == "warning"]
    assert warning["row"] == "2" and warning["field"] == "created_at" and warning["value"] == "03/04/2026"
    assert "column 'Created Date'" in warning["reason"] and "--dayfirst" in warning["reason"]
    assert "month first" in warning["reason"]


def test_dayfirst_option_and_a_decisive_value_need_no_warning(store, rules, tmp_path):
    rows = [[f"p{i}@x.com", d] for i, d in enumerate(AMBIGUOUS)]
    path = write_csv(tmp_path / "x.csv", ["Email", "Created Date"], rows)
    r = imp(store, rules, tmp_path, path, dayfirst=True)
    assert r.warnings == 0 and _dates(store)["p0@x.com"] == datetime(2026, 4, 3)
    rows.append(["p9@x.com", "25/12/2026"])
    r = imp(store, rules, tmp_path, write_csv(tmp_path / "y.csv", ["Email", "Created Date"], rows))
    assert r.warnings == 0
