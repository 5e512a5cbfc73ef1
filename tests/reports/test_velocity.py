from __future__ import annotations

import json
from datetime import datetime, timedelta

from leadctl.engine.leadquery import LeadFilter
from leadctl.reports.common import DEFAULT_STAGES
from leadctl.reports.velocity import velocity_report

from .conftest import add_lead, pct_cont

D = datetime(2026, 1, 10)
NOW = datetime(2026, 3, 1, 12, 0)


def _fixture(store):
    """Five leads reaching mql after 1..5 days; three of them won after 10, 20 and 40 days."""
    with store.begin() as conn:
        for i in range(1, 6):
            hist = [("new", D), ("mql", D + timedelta(days=i))]
            if i <= 3:
                hist.append(("customer", D + timedelta(days=[10, 20, 40][i - 1])))
            add_lead(conn, source="web" if i % 2 else "fair", owner="ana" if i <= 2 else "bo", grade="A" if i == 1
                     else None, created_at=D if i != 5 else datetime(2026, 2, 3), history=hist if i != 5 else
                     [("new", datetime(2026, 2, 3)), ("mql", datetime(2026, 2, 8))])


def test_days_to_each_stage_by_hand(store):
    _fixture(store)
    report = velocity_report(store, DEFAULT_STAGES, LeadFilter(), now=NOW)
    rows = {(r.dimension, r.group, r.stage): r for r in report.rows}
    mql = rows[("all", "all", "mql")]
    assert (mql.leads, mql.median_days) == (5, 3.0)
    assert mql.p75_days == pct_cont([1, 2, 3, 4, 5], 0.75) and mql.p90_days == round(pct_cont([1, 2, 3, 4, 5], 0.9), 1)
    won = rows[("all", "all", "won")]
    assert (won.leads, won.median_days, won.p75_days, won.p90_days) == (3, 20.0, 30.0, 36.0)
    assert won.stage_label == "Won (customer)"
    assert rows[("source", "web", "won")].leads == 2 and rows[("source", "web", "won")].median_days == 25.0
    assert rows[("owner", "ana", "won")].median_days == 15.0
    assert rows[("grade", "A", "mql")].leads == 1 and rows[("grade", "(none)", "mql")].leads == 4
    assert rows[("cohort", "2026-01", "mql")].leads == 4 and rows[("cohort", "2026-02", "mql")].median_days == 5.0
    assert ("all", "all", "sql") not in rows  # nobody reached it


def test_stuck_leads(store):
    with store.begin() as conn:
        for i in range(1, 7):  # six leads that left mql after 1..6 days: p90 = 5.5 days
            add_lead(conn, created_at=D, history=[("new", D), ("mql", D), ("sql", D + timedelta(days=i))])
        slow = add_lead(conn, email="slow@example.com", created_at=D, stage_changed_at=NOW - timedelta(days=9),
                        history=[("new", D), ("mql", NOW - timedelta(days=9))])
        add_lead(conn, created_at=D, stage_changed_at=NOW - timedelta(days=2),
                 history=[("new", D), ("mql", NOW - timedelta(days=2))])
    report = velocity_report(store, DEFAULT_STAGES, LeadFilter(), now=NOW, stuck=True)
    assert [(s.lead_id, s.stage, s.days_in_stage, s.p90_days) for s in report.stuck] == [(slow, "mql", 9.0, 5.5)]
    assert report.stuck_records()[0][1] == "slow@example.com"


def test_cli_velocity(store, db_url, run, tmp_path):
    import xml.etree.ElementTree as ET

    _fixture(store)
    res = run(db_url, "report", "velocity", "--format", "json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)["rows"]
    assert list(rows[0]) == ["dimension", "group", "stage", "stage_label", "leads", "median_days", "p75_days",
                             "p90_days"]
    stuck = json.loads(run(db_url, "report", "velocity", "--stuck", "--format", "json").output)
    assert stuck["rows"] == [] and stuck["totals"] is None
    res = run(db_url, "report", "velocity", "--stuck")
    assert res.exit_code == 0 and "Velocity" in res.output and "Won (customer)" in res.output, res.output
    svg, png, page = tmp_path / "v.svg", tmp_path / "v.png", tmp_path / "v.html"
    res = run(db_url, "report", "velocity", "--svg", str(svg), "--png", str(png), "--html", str(page), "--stuck")
    assert res.exit_code == 0, res.output
    text = svg.read_text()
    ET.fromstring(text)
    assert "Marketing qualified" in text and "Won (customer)" in text and ">36<" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = page.read_text()
    assert html.count("<svg") == 3 and "median by source" in html and "2026-01" in html and "Stuck leads" in html


def test_olist_days_to_won_match_an_independent_count(olist_store):
    from .conftest import parse, pct_cont

    store, mqls, deals = olist_store
    report = velocity_report(store, DEFAULT_STAGES, LeadFilter(), now=NOW)
    won = next(r for r in report.rows if r.dimension == "all" and r.stage == "won")
    by_id = {m["mql_id"]: m for m in mqls}
    days = [(parse(d["won_date"]) - parse(by_id[k]["first_contact_date"])).total_seconds() / 86400
            for k, d in deals.items() if k in by_id]
    days = [d for d in days if d >= 0]
    assert won.leads == len(days)
    for got, q in ((won.median_days, 0.5), (won.p75_days, 0.75), (won.p90_days, 0.9)):
        assert abs(got - pct_cont(days, q)) <= 0.06  # shown to 0.1 day, computed on 0.001-day steps


def test_maven_pipeline(store, shared_data):
    """Maven's sales pipeline: won and lost deals by agent, days from engaging to closing."""
    import csv
    import statistics

    from leadctl.store.history import record_stage_changes
    from leadctl.store.models import Lead

    path = shared_data / "real" / "maven-crm-sales-opportunities" / "sales_pipeline.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        deals = [d for d in csv.DictReader(fh) if d["engage_date"]]
    leads, hist = [], []
    for i, d in enumerate(deals, start=1):
        start = datetime.fromisoformat(d["engage_date"])
        stage = {"Won": "customer", "Lost": "lost"}.get(d["deal_stage"], "opportunity")
        leads.append({"id": i, "owner": d["sales_agent"], "source": d["product"], "created_at": start,
                      "updated_at": start, "stage": stage, "score": 0})
        hist.append({"lead_id": i, "from_stage": None, "to_stage": "opportunity", "at": start, "cause": "import"})
        if d["close_date"] and stage != "opportunity":
            hist.append({"lead_id": i, "from_stage": "opportunity", "to_stage": stage,
                         "at": datetime.fromisoformat(d["close_date"]), "cause": "import"})
    with store.begin() as conn:
        conn.execute(Lead.__table__.insert(), leads)
        record_stage_changes(conn, hist, new_leads=True)
    report = velocity_report(store, DEFAULT_STAGES, LeadFilter(), now=NOW)
    won = next(r for r in report.rows if r.dimension == "all" and r.stage == "won")
    days = [(datetime.fromisoformat(d["close_date"]) - datetime.fromisoformat(d["engage_date"])).days
            for d in deals if d["deal_stage"] == "Won"]
    assert won.leads == len(days) and won.median_days == statistics.median(days)
    from leadctl.reports.lost import UNSPECIFIED, catalogue_of, lost_report

    lost = lost_report(store, DEFAULT_STAGES, catalogue_of(None), LeadFilter())
    assert lost.lost == sum(d["deal_stage"] == "Lost" for d in deals)
    assert [(r.reason, r.leads) for r in lost.rows if r.dimension == "reason"] == [(UNSPECIFIED, lost.lost)]
