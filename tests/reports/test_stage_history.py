"""store.history: `left_at` is always the `at` of the lead's next row in (at, id) order."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from leadctl.engine.leadops import merge_leads
from leadctl.engine.leadquery import LeadFilter
from leadctl.reports.common import DEFAULT_STAGES
from leadctl.reports.funnel import funnel_report
from leadctl.store.history import HISTORY, record_stage_changes, relink_stage_history

from .conftest import NOW, add_lead

D = datetime(2026, 1, 1)


def chains(conn):
    """{lead: [(at, to_stage, left_at)]} and whether every left_at is the next row's at."""
    rows = conn.execute(select(HISTORY.c.lead_id, HISTORY.c.at, HISTORY.c.to_stage, HISTORY.c.left_at)
                        .order_by(HISTORY.c.lead_id, HISTORY.c.at, HISTORY.c.id)).all()
    ok = all(r.left_at == (n.at if n is not None and n.lead_id == r.lead_id else None)
             for r, n in zip(rows, rows[1:] + [None]))
    return rows, ok


def row(lead, stage, at):
    return {"lead_id": lead, "from_stage": None, "to_stage": stage, "at": at, "cause": "rule"}


def test_left_at_in_order_out_of_order_and_in_one_call(store):
    with store.begin() as conn:
        a = add_lead(conn, history=[("new", D), ("mql", D + timedelta(days=2))])
        b = add_lead(conn, history=[("new", D)])
        c = add_lead(conn)  # no history at all
        # several rows of one lead in one call, not in time order; another lead's row in between
        record_stage_changes(conn, [row(b, "sql", D + timedelta(days=5)), row(a, "sql", D + timedelta(days=3)),
                                    row(b, "mql", D + timedelta(days=1))])
        # back-dated: lands between a's existing rows
        record_stage_changes(conn, [row(a, "mql", D + timedelta(days=1))])
        # same time as an existing row: after it (larger id)
        record_stage_changes(conn, [row(a, "lost", D + timedelta(days=3)), row(c, "mql", D)])
        rows, ok = chains(conn)
    assert ok, rows
    assert sum(1 for r in rows if r.left_at is None) == 3


def test_rows_without_left_at_are_repaired(store):
    with store.begin() as conn:
        lead = add_lead(conn)
        conn.execute(HISTORY.insert(), [row(lead, "new", D), row(lead, "mql", D + timedelta(days=1))])
        record_stage_changes(conn, [row(lead, "sql", D + timedelta(days=2))])
        assert chains(conn)[1]
        conn.execute(HISTORY.delete().where(HISTORY.c.to_stage == "sql"))
        assert not chains(conn)[1]
        assert relink_stage_history(conn, [lead]) == 1
        assert chains(conn)[1]


def test_merge_relinks_and_the_funnel_times_it(store):
    with store.begin() as conn:
        keep = add_lead(conn, email="k@x.org", history=[("new", D), ("mql", D + timedelta(days=4))])
        other = add_lead(conn, email="o@x.org", history=[("new", D + timedelta(days=1)),
                                                         ("sql", D + timedelta(days=2))])
    merge_leads(store, str(keep), str(other), now=NOW)
    with store.connect() as conn:
        rows, ok = chains(conn)
    assert ok and [r.to_stage for r in rows] == ["new", "new", "sql", "mql", "mql"]
    s = {r.stage: r for r in funnel_report(store, DEFAULT_STAGES, LeadFilter(), now=NOW).rows}
    assert s["new"].median_days == 1.0 and s["sql"].median_days == 2.0
