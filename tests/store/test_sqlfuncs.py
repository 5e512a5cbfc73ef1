"""store/sqlfuncs: each construct and query gives the same answers on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from leadctl.reports.common import percentile
from leadctl.store.models import Lead
from leadctl.store.sqlfuncs import cohort_label, json_object_keys, percentile_cont, seconds_between, seconds_within

from tests.conftest import LEAD_TIME, add_lead

LEADS = Lead.__table__


def test_seconds_within_is_sure_both_ways(store):
    at = LEAD_TIME
    soon = add_lead(store, assigned_at=at, last_contacted_at=at + timedelta(seconds=30))
    late = add_lead(store, assigned_at=at, last_contacted_at=at + timedelta(minutes=2))
    within = seconds_within(LEADS.c.assigned_at, LEADS.c.last_contacted_at, timedelta(minutes=1))
    with store.connect() as conn:
        got = dict(conn.execute(select(LEADS.c.id, within)).all())
    assert bool(got[soon]) is True
    assert bool(got[late]) is False


def test_seconds_between_and_cohort_label(store):
    lead = add_lead(store, at=LEAD_TIME, assigned_at=LEAD_TIME + timedelta(hours=1, seconds=30))
    stmt = select(seconds_between(LEADS.c.created_at, LEADS.c.assigned_at),
                  cohort_label(LEADS.c.created_at, "month"), cohort_label(LEADS.c.created_at, "week"))
    with store.connect() as conn:
        secs, month, week = conn.execute(stmt.where(LEADS.c.id == lead)).one()
    assert round(secs) == 3630
    assert (month, week) == ("2026-11", "2026-11-16")  # 20 Nov 2026 is a Friday


def test_json_object_keys(store):
    add_lead(store, source="web", attributes={"plan": "pro", "seats": 3})
    add_lead(store, source="fair", attributes={"booth": "B2"})
    add_lead(store, source="web", attributes={})
    with store.connect() as conn:
        assert json_object_keys(conn, LEADS.c.attributes) == {"plan", "seats", "booth"}
        assert json_object_keys(conn, LEADS.c.attributes, LEADS.c.source == "web") == {"plan", "seats"}
        assert json_object_keys(conn, LEADS.c.attributes, LEADS.c.source == "none") == set()


def test_percentile_cont_in_the_database_or_none(store):
    values = {"web": [1, 2, 10], "fair": [4, 8]}
    for source, scores in values.items():
        for score in scores:
            add_lead(store, source=source, score=score)
    with store.connect() as conn:
        got = percentile_cont(conn, [LEADS.c.source], LEADS.c.score, (0.5, 0.9), overall=True)
    if store.is_sqlite:
        assert got is None  # no percentile_cont: the reports pick them in Python
        return
    assert got is not None
    groups, total = got
    assert dict(groups) == {(s, ): tuple(percentile(v, q) for q in (0.5, 0.9)) for s, v in values.items()}
    everything = [v for vs in values.values() for v in vs]
    assert total == tuple(percentile(everything, q) for q in (0.5, 0.9))
