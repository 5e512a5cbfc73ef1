"""Properties of `import_leads` over generated lead files:

* importing any file a second time reports every row `unchanged` (also two files in one call,
  and whatever the chunk size, so duplicates that fall in different chunks are folded alike);
* no two distinct e-mails ever end up on one lead, whatever else the rows share (a switchboard
  phone, a company, an id crossed with another person's e-mail), and no e-mail is dropped.

The files are small; the importer's chunk size is lowered so that chunk boundaries fall
between a person's rows. Files above the real chunk size (5,000 rows) are left to a slow test.
"""
from __future__ import annotations

import csv
import tempfile
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select

from leadctl.ingest import importer as importer_module
from leadctl.ingest.importer import ImportOptions, import_leads
from leadctl.rules.loader import load_rules
from leadctl.store import models
from leadctl.store.db import open_store

from conftest import REPO

NOW = datetime(2026, 11, 20, 10, 0)
RULES = load_rules(str(REPO / "leadctl" / "default_rules"))

HEADER = ["Email", "Phone", "External ID", "First Name", "Last Name", "Company", "Job Title", "Lead Status",
          "Lead Source", "Country"]
FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson"]
COMPANIES = ["Acme", "Globex", "Initech"]
PHONES = ["+1 415 555 0100", "+1 415 555 0111", "+1 212 555 0122"]  # few: people share switchboards
TITLES = ["", "CEO", "CTO", "Buyer"]
STAGES = ["", "New", "MQL", "SQL", "Customer", "Lost"]
SOURCES = ["", "Web", "Referral", "Trade Show"]

# Derandomized, so a case marked xfail below fails (or starts passing) the same way on every run.
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
_CROSSED_IDS = ("rows that cross identifiers (an e-mail carried with another person's id of the same system, or two "
                "ids of one system on one e-mail) are resolved one way inside the file and another against the store: "
                "the second import reports updated 1 and merged 1-2 instead of all unchanged (the third is unchanged)")


@st.composite
def people(draw) -> list[dict]:
    """A few distinct people: each has their own e-mail, maybe an id, and a phone that may be shared."""
    n = draw(st.integers(1, 6))
    out = []
    for i in range(n):
        out.append({
            "Email": f"person{i}@{draw(st.sampled_from(['acme.example', 'globex.example', 'mail.example']))}",
            "Phone": draw(st.sampled_from(PHONES + [""])),
            "External ID": draw(st.sampled_from([f"00Q{i:05d}", ""])),
            "First Name": FIRST[i % len(FIRST)],
            "Last Name": LAST[i % len(LAST)],
            "Company": draw(st.sampled_from(COMPANIES)),
        })
    return out


@st.composite
def lead_rows(draw, pool: list[dict]) -> list[list[str]]:
    """Rows about the people of `pool`, in any order, repeated with differing or empty values;
    some rows leave out the e-mail, and some cross one person's e-mail with another's id or phone."""
    rows = []
    for _ in range(draw(st.integers(1, 14))):
        p = draw(st.sampled_from(pool))
        row = dict(p)
        kind = draw(st.sampled_from(["same", "same", "same", "no_email", "cross"]))
        if kind == "no_email":
            row["Email"] = ""
        elif kind == "cross":
            other = draw(st.sampled_from(pool))
            which = draw(st.sampled_from(["External ID", "Phone"]))
            row[which] = other[which]
        for col in ("Phone", "External ID", "First Name", "Company"):
            if draw(st.booleans()) and draw(st.booleans()):
                row[col] = ""  # a cell left empty in this row
        row["Job Title"] = draw(st.sampled_from(TITLES))
        row["Lead Status"] = draw(st.sampled_from(STAGES))
        row["Lead Source"] = draw(st.sampled_from(SOURCES))
        row["Country"] = draw(st.sampled_from(["US", "United States", ""]))
        rows.append([row.get(h, "") for h in HEADER])
    return rows


@st.composite
def files(draw, count: int = 1) -> list[list[list[str]]]:
    pool = draw(people())
    return [draw(lead_rows(pool)) for _ in range(count)]


def _write(path: Path, rows: list[list[str]]) -> str:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(rows)
    return str(path)


@contextmanager
def _chunk(size: int):
    """A small chunk size, so a person's rows fall in different chunks."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(importer_module, "CHUNK", size, raising=False)
        yield


@contextmanager
def _store():
    with tempfile.TemporaryDirectory() as d:
        store = open_store(str(Path(d) / "leadctl.db"))
        try:
            yield store, Path(d)
        finally:
            store.dispose()


def _import(store, paths: list[str], folder: Path, tag: str):
    return import_leads(store, paths, ImportOptions(rejects=str(folder / f"rejects-{tag}.csv")), RULES, now=NOW)


def _assert_all_unchanged(first, again) -> None:
    assert (again.created, again.updated, again.merged) == (0, 0, 0), (first.summary(), again.summary())
    assert again.unchanged == first.read - first.rejected, (first.summary(), again.summary())
    assert again.rejected == first.rejected


def _emails_per_lead(store) -> dict[int, set[str]]:
    t, li = models.Lead.__table__, models.LeadIdentifier.__table__
    out: dict[int, set[str]] = {}
    with store.connect() as conn:
        for lid, email in conn.execute(select(t.c.id, t.c.email)):
            out.setdefault(lid, set())
            if email:
                out[lid].add(email.casefold())
        for lid, value in conn.execute(select(li.c.lead_id, li.c.value).where(li.c.kind == "email")):
            out.setdefault(lid, set()).add(value.casefold())
    return out


def _file_emails(*fileset: list[list[str]]) -> set[str]:
    return {row[0].casefold() for rows in fileset for row in rows if row[0]}


# ------------------------------------------------------------------------------------ properties
@SETTINGS
@given(fileset=files(), chunk=st.integers(1, 6))
def test_a_second_import_of_any_file_is_all_unchanged(fileset, chunk):
    with _chunk(chunk), _store() as (store, d):
        path = _write(d / "leads.csv", fileset[0])
        first = _import(store, [path], d, "1")
        again = _import(store, [path], d, "2")
        _assert_all_unchanged(first, again)
        third = _import(store, [path], d, "3")
        _assert_all_unchanged(first, third)


@SETTINGS
@given(fileset=files(count=2), chunk=st.integers(1, 6))
def test_a_second_import_of_two_files_in_one_call_is_all_unchanged(fileset, chunk):
    with _chunk(chunk), _store() as (store, d):
        paths = [_write(d / "a.csv", fileset[0]), _write(d / "b.csv", fileset[1])]
        first = _import(store, paths, d, "1")
        again = _import(store, paths, d, "2")
        _assert_all_unchanged(first, again)


@SETTINGS
@given(fileset=files(count=2), chunk=st.integers(1, 6), together=st.booleans())
def test_no_two_distinct_emails_are_ever_merged(fileset, chunk, together):
    with _chunk(chunk), _store() as (store, d):
        paths = [_write(d / "a.csv", fileset[0]), _write(d / "b.csv", fileset[1])]
        if together:
            _import(store, paths, d, "ab")
        else:  # the second file meets the first one's leads in the store
            _import(store, paths[:1], d, "a")
            _import(store, paths[1:], d, "b")
        per_lead = _emails_per_lead(store)
        merged = {lid: sorted(e) for lid, e in per_lead.items() if len(e) > 1}
        assert not merged, f"leads carrying several people's e-mails: {merged}"
        kept = set().union(*per_lead.values()) if per_lead else set()
        assert _file_emails(*fileset) <= kept, f"e-mails dropped: {_file_emails(*fileset) - kept}"
