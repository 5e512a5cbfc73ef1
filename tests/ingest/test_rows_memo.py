"""The normaliser reads each distinct value of a few-valued column once (countries, sources, dates,
numbers, names …) and a row's quality flags with it: every row gives exactly what reading every
cell again gives (`Normaliser(memo=False)`, the reference), on the test corpora, generated leads
and messy rows."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from leadctl.errors import LeadctlError
from leadctl.ingest.headers import build_column_map
from leadctl.ingest.options import ImportOptions
from leadctl.ingest.reader import BadRecord, read_records
from leadctl.ingest.rows import HEAD_ROWS, Normaliser, Sources, plan_values
from leadctl.quality.flags import email_flags, phone_flags

from conftest import REPO, write_csv

DATA = REPO / "tests" / "data"
CORPORA = sorted(p for p in [*DATA.glob("exports/*.csv"), *DATA.glob("bad/*.csv"), *DATA.glob("bad/*.json*"),
                             *(REPO / "examples").glob("*.csv"), *(REPO / "examples").glob("*.json")]
                 if not p.name.endswith(".rejects.csv"))


def _outcomes(path: str, rules, opts: ImportOptions, *, memo: bool, twice: bool = False) -> list:
    """Every record's (row, reject reason, warnings) and the phone evidence counts, as one normaliser
    gives them (`twice`: the records read a second time by the same normaliser, memos warm)."""
    try:
        stream = read_records(path, fmt=opts.fmt)
        records = [(n, r) for n, r in stream if not isinstance(r, BadRecord)]
    except LeadctlError:
        return []
    colmap = build_column_map(stream.headers, overrides=opts.overrides, mapping=opts.mapping)
    plan = plan_values([r for _, r in records[:HEAD_ROWS]], colmap, opts, rules)
    norm = Normaliser(colmap, opts, rules, Sources(rules, []), plan, memo=memo)
    out = [norm.row(n, dict(raw)) for n, raw in records]
    if twice:
        out += [norm.row(n, dict(raw)) for n, raw in records]
    return [out, dict(norm.phone_evidence)]


@pytest.mark.parametrize("path", CORPORA, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_corpus_row_is_what_reading_every_cell_gives(path, rules):
    opts = ImportOptions(default_region="US")
    assert _outcomes(str(path), rules, opts, memo=True, twice=True) == \
        _outcomes(str(path), rules, opts, memo=False, twice=True)


def test_the_rows_carry_the_flags_of_their_email_and_phone(rules):
    rows = [row for row, _r, _w in _outcomes(str(DATA / "exports" / "hubspot_contacts.csv"), rules,
                                             ImportOptions(), memo=True)[0] if row is not None]
    assert rows and any(row.values.get("phone") for row in rows)
    for row in rows:
        email, ef, phone, pf = row.flags
        assert (email, phone) == (row.values.get("email"), row.values.get("phone"))
        assert list(ef) == email_flags(email)
        assert pf is None if not phone else list(pf) == phone_flags(phone)


@pytest.mark.slow
def test_generated_leads_are_what_reading_every_cell_gives(shared_data, rules, tmp_path):
    path = tmp_path / "leads.csv"
    with path.open("w") as fh:
        subprocess.run([sys.executable, str(shared_data / "gen_leads.py"), "3000"], stdout=fh, check=True)
    opts = ImportOptions()
    assert _outcomes(str(path), rules, opts, memo=True) == _outcomes(str(path), rules, opts, memo=False)


# -- messy rows: few distinct values each, so the memos answer most cells ------------------------
_EMAILS = st.sampled_from([
    "ada@example.com", " Ada@Example.COM ", "mailto:bob@acme.io", "<eve@corp.de>", "info@gmail.com",
    "x@mailinator.com", "jürgen@münchen.de", "not an email", "a@b", "test@test.com", "N/A", "",
    "carol+tag@Sub.Example.org", "dave@@acme.com", "ann@acme.com ::: ann2@acme.com",
])
_PHONES = st.sampled_from([
    "+33 1 69 91 42 13", "0033169914213", "(415) 555-0123", "415.555.0123", "+1 800 555 0100",
    "01 69 91 42 13", "020 7946 0958", "+44 7911 123456", "33169914213", "12", "n/a", "", "+49 30 1234567",
    "+39 06 1234 5678", "+7 495 123-45-67", "555-0199 ext. 12", "+1 (212) 555-0100",
])
_COUNTRIES = st.sampled_from(["France", "FR", "US", "United States", "Deutschland", "UK", "Narnia", "", "-"])
_DATES = st.sampled_from([
    "2025-04-12", "2025-04-12 14:36:00", "2025-04-12T14:36:00Z", "12/04/2025", "04/12/2025", "13/04/2025",
    "4/5/25", "15 Jul 2025", "Jul 15, 2025", "15th July 2025 9:30 PM", "2025/4/12", "12.04.2025",
    "yesterday", "", "31/02/2025",
])
_NUMBERS = st.sampled_from([
    "5", "1,200", "1.200", "1 200", "$3.5M", "€2,5 Mio", "10-50", "51 to 200", "~300", "1e6", "-4",
    "12k", "unknown", "", "£1,000,000.00", "3,5",
])
_NAMES = st.sampled_from([
    "Ada", "Mr HAIDER", "Dr. Ada", "Lovelace Jr.", "O'Brien", "ada@example.com", "@ada", "Test", "",
    "Jean-Pierre", "Mme Dupont", "ZZ", "Smith III",
])
_SOURCES = st.sampled_from(["Web", "web", "LinkedIn Ads", "Partner", "", "Google / CPC"])
_STAGES = st.sampled_from(["", "New", "qualified", "Closed-Won", "Pre Qualified", "nonsense"])
_ROW = st.tuples(_NAMES, _NAMES, _EMAILS, _PHONES, _COUNTRIES, _DATES, _NUMBERS, _NUMBERS, _SOURCES, _STAGES)
_HEADER = ["First Name", "Last Name", "Email", "Phone", "Country", "Created Date", "Employees",
           "Annual Revenue", "Lead Source", "Lead Status"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_ROW, min_size=1, max_size=40), dayfirst=st.sampled_from([None, True, False]),
       region=st.sampled_from([None, "US", "FR"]))
def test_messy_rows_are_what_reading_every_cell_gives(rows, dayfirst, region, rules, tmp_path):
    path = write_csv(Path(tmp_path) / "messy.csv", _HEADER, [list(r) for r in rows])
    opts = ImportOptions(dayfirst=dayfirst, default_region=region)
    assert _outcomes(path, rules, opts, memo=True, twice=True) == _outcomes(path, rules, opts, memo=False, twice=True)
