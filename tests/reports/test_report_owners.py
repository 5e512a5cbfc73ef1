from __future__ import annotations

import json
from datetime import datetime, timedelta

from leadctl.engine.leadquery import LeadFilter
from leadctl.reports.common import DEFAULT_STAGES
from leadctl.reports.owners import owners_report

from .conftest import add_activity, add_assignment, add_breach, add_lead, add_owner

D = datetime(2026, 1, 10)


def build(store):
    with store.begin() as conn:
        add_owner(conn, "dana", team="emea", capacity=4)
        add_owner(conn, "idle", team="emea", capacity=10)
        a = add_lead(conn, owner="dana", created_at=D, history=[("new", D)])
        add_assignment(conn, a, "dana", D)
        add_activity(conn, a, "call", D + timedelta(hours=3))
        add_breach(conn, a, "dana", D + timedelta(hours=2))
        b = add_lead(conn, owner="dana", created_at=D, last_contacted_at=D + timedelta(hours=5),
                     history=[("new", D), ("customer", D + timedelta(days=2))])
        add_assignment(conn, b, "dana", D)
        c = add_lead(conn, owner="dana", created_at=D - timedelta(days=60), history=[("new", D - timedelta(days=60))])
        add_assignment(conn, c, "dana", D - timedelta(days=60))
        add_lead(conn, owner="lee", created_at=D, stage="lost")
        add_lead(conn, created_at=D)


def test_owners_report(store):
    build(store)
    rows = {r.owner: r for r in owners_report(store, DEFAULT_STAGES, LeadFilter()).rows}
    d = rows["dana"]
    assert (d.team, d.capacity, d.open_leads, d.load_pct, d.leads) == ("emea", 4, 2, 50.0, 3)
    assert (d.assigned, d.contacted, d.sla_breaches, d.won, d.won_rate_pct) == (3, 2, 1, 1, 33.3)
    assert d.median_first_response_hours == 4.0  # median of 3 h and 5 h
    assert rows["idle"].leads == 0 and rows["idle"].open_leads == 0
    assert rows["lee"].open_leads == 0 and rows["(none)"].leads == 1
    # a window: counts and assignments in January only; the load stays the whole load
    jan = {r.owner: r for r in owners_report(store, DEFAULT_STAGES, LeadFilter(since=datetime(2026, 1, 1))).rows}
    assert (jan["dana"].leads, jan["dana"].assigned, jan["dana"].open_leads) == (2, 2, 2)
    only = owners_report(store, DEFAULT_STAGES, LeadFilter(owner="Dana")).rows
    assert [r.owner for r in only] == ["dana"]


def test_cli_owners(store, db_url, run):
    build(store)
    res = run(db_url, "report", "owners", "--format", "json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)["rows"]
    assert rows[0]["owner"] == "dana" and rows[0]["load_pct"] == 50.0
    res = run(db_url, "report", "owners")
    assert "Owners — all time" in res.output and "50%" in res.output
