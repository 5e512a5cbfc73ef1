"""Property-based tests: for any input, the reader and the importer either work or raise
leadctl's own error — never anything else (the normaliser and rule-loader properties
live in tests/ingest and tests/rules)."""
from __future__ import annotations

import csv
import io
import itertools
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from leadctl.errors import InputError, LeadctlError
from leadctl.ingest.reader import BadRecord, read_records

from .conftest import DEFAULT_RULES

_counter = itertools.count()

# Bytes that are likely to matter to a CSV/JSON reader, mixed with anything at all.
_INTERESTING = st.sampled_from([b",", b";", b"\t", b"|", b'"', b"\n", b"\r", b"\r\n", b"\x00", b"\xff", b"\xfe",
                                b"\xef\xbb\xbf", b"{", b"}", b"[", b"]", b":", b"email", b"a@x.io", b"\xc3\xa9",
                                b"\\", b"null", b"1e999", b" "])
_BYTES = st.one_of(st.binary(max_size=600),
                   st.lists(st.one_of(_INTERESTING, st.binary(max_size=8)), max_size=80).map(b"".join))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_BYTES, ext=st.sampled_from([".csv", ".json", ".jsonl", ".txt", ""]),
       fmt=st.sampled_from([None, None, "csv", "json", "jsonl"]))
def test_reader_reads_any_bytes_or_raises_input_error(tmp_path, data, ext, fmt):
    path = tmp_path / f"f{next(_counter)}{ext}"
    path.write_bytes(data)
    try:
        stream = read_records(str(path), fmt=fmt)
    except InputError:
        return
    try:
        headers = stream.headers
        assert all(isinstance(h, str) for h in headers)
        last = 0
        for number, record in stream:
            assert isinstance(number, int) and number > last
            last = number
            if isinstance(record, BadRecord):
                assert stream.format == "jsonl"
                continue
            assert isinstance(record, dict)
            assert all(isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in record.items())
        assert stream.finished and len(stream.sha256) == 64
    except InputError:
        pass
    finally:
        stream.close()


_CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["a@example.com", "A@Example.com", "b@bücher.de", "+4930123456", "(212) 555-0101", "x", "",
                     "N/A", "2025-02-30", "0001-01-01", "1e309", "NaN", "-0", "=1+1", "@SUM(A1)",
                     "'; DROP TABLE leads; --",
                     "%", "_", "\\", "99999999999999999999", "yes", "new", "customer", "\x00", "\u202e"]),
)
_HEADER = st.sampled_from(["Email", "Phone", "First Name", "Last Name", "Company", "Employees", "Annual Revenue",
                           "Country", "Lead Source", "Created Date", "Stage", "External ID", "Do Not Contact",
                           "Notes", "Email", "", "x"])


@st.composite
def _csv_text(draw) -> str:
    headers = draw(st.lists(_HEADER, min_size=1, max_size=6))
    rows = draw(st.lists(st.lists(_CELL, min_size=0, max_size=len(headers) + 2), max_size=8))
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(headers)
    w.writerows(rows)
    return buf.getvalue()


@pytest.fixture(scope="module")
def _import_env():
    from leadctl.rules.loader import load_rules
    from leadctl.store.db import open_store

    with tempfile.TemporaryDirectory() as d:
        store = open_store(str(Path(d) / "prop.db"))
        yield store, load_rules(str(DEFAULT_RULES)), Path(d)
        store.dispose()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_csv_text(), mode=st.sampled_from(["upsert", "create", "update"]), strict=st.booleans())
def test_import_of_any_small_csv_adds_up_or_raises_leadctl_error(_import_env, text, mode, strict):
    from sqlalchemy import func, select

    from leadctl.ingest.importer import ImportOptions, import_leads
    from leadctl.store.models import Lead

    store, rules, folder = _import_env
    path = folder / f"in{next(_counter)}.csv"
    path.write_text(text, encoding="utf-8")
    with store.connect() as conn:
        before = conn.execute(select(func.count()).select_from(Lead.__table__)).scalar()
    try:
        r = import_leads(store, [str(path)], ImportOptions(mode=mode, strict=strict), rules)
    except LeadctlError:
        with store.connect() as conn:  # a failed import leaves the store as it was
            assert conn.execute(select(func.count()).select_from(Lead.__table__)).scalar() == before
        return
    assert r.read == r.created + r.updated + r.merged + r.unchanged + r.rejected
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Lead.__table__)).scalar() == before + r.created
