from __future__ import annotations

import json
import statistics
from collections import Counter
from datetime import datetime, timedelta

import pytest

from leadctl.engine.leadquery import LeadFilter
from leadctl.reports.common import DEFAULT_STAGES
from leadctl.reports.sources import SourceInfo, months_in_window, sources_report

from .conftest import add_activity, add_lead

D = datetime(2026, 1, 10)


def test_sources_on_olist_match_an_independent_count(olist_store):
    store, mqls, deals = olist_store
    report = sources_report(store, DEFAULT_STAGES, [], LeadFilter())
    rows = {r.source: r for r in report.rows}
    expected = Counter((m["origin"] or "(none)") for m in mqls)
    won = Counter((m["origin"] or "(none)") for m in mqls if m["mql_id"] in deals)
    assert {k: v.leads for k, v in rows.items() if k != "Total"} == dict(expected)
    assert "unknown" in rows  # kept as it comes
    for name, n in expected.items():
        assert rows[name].won == won[name]
        assert rows[name].reached_mql == n and rows[name].reached_sql == won[name]
        assert rows[name].won_rate_pct == round(100 * won[name] / n, 1)
    assert rows["Total"].leads == len(mqls) and rows["Total"].won == sum(won.values())
    assert report.rows[-1].source == "Total"
    assert [r.leads for r in report.rows[:-1]] == sorted((r.leads for r in report.rows[:-1]), reverse=True)


def test_canonical_names_costs_and_first_response(store):
    google = SourceInfo("Google Ads", "paid_search", ("google", "adwords"), {"2026-01": 1200.0, "2026-02": 950.5})
    with store.begin() as conn:
        a = add_lead(conn, source=" google ", created_at=D, score=10, history=[("new", D)])
        add_activity(conn, a, "call", D + timedelta(hours=2))
        add_activity(conn, a, "call", D + timedelta(hours=9))
        b = add_lead(conn, source="AdWords", created_at=D, score=30, last_contacted_at=D + timedelta(hours=6),
                     history=[("new", D), ("customer", D + timedelta(days=3))])
        add_activity(conn, b, "page_view", D + timedelta(hours=1))  # not a contact
        add_lead(conn, source="", created_at=D)
        add_lead(conn, source="Referral", created_at=D + timedelta(days=40), stage="lost")
    report = sources_report(store, DEFAULT_STAGES, [google], LeadFilter())
    rows = {r.source: r for r in report.rows}
    g = rows["Google Ads"]
    assert (g.leads, g.won, g.channel, g.avg_score) == (2, 1, "paid_search", 20.0)
    assert g.median_first_response_hours == pytest.approx(statistics.median([2, 6]), abs=0.02)
    assert g.spend == 2150.5 and g.cost_per_lead == 1075.25 and g.cost_per_won == 2150.5
    assert rows["(none)"].leads == 1 and rows["Referral"].lost == 1
    jan = sources_report(store, DEFAULT_STAGES, [google], LeadFilter(since=datetime(2026, 1, 1),
                                                                     until=datetime(2026, 2, 1)))
    assert {r.source: r for r in jan.rows}["Google Ads"].spend == 1200.0
    assert jan.rows[-1].leads == 3


def test_months_in_window():
    assert months_in_window(None, None, ["2026-01", "2026-02"]) == ["2026-01", "2026-02"]
    assert months_in_window(datetime(2026, 1, 31), datetime(2026, 2, 1), ["2026-01", "2026-02"]) == ["2026-01"]
    assert months_in_window(datetime(2026, 2, 15), None, ["2026-01", "2026-02", "2026-03"]) == ["2026-02", "2026-03"]


def test_cli_sources(store, db_url, tmp_path, run):
    with store.begin() as conn:
        add_lead(conn, source="Webinar", company="=HYPERLINK(\"http://x\")")
    res = run(db_url, "report", "sources", "--format", "json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)["rows"]
    assert list(rows[0]) == ["source", "channel", "leads", "reached_mql", "reached_sql", "won", "lost",
                             "won_rate_pct", "avg_score", "median_first_response_hours", "spend", "cost_per_lead",
                             "cost_per_won", "segment"]
    assert [r["source"] for r in rows] == ["Webinar"]  # the groups only: the total is apart
    res = run(db_url, "report", "sources")
    assert res.exit_code == 0 and "Webinar" in res.output and "Sources — all time" in res.output
    html = tmp_path / "s.html"
    assert run(db_url, "report", "sources", "--html", str(html)).exit_code == 0
    assert html.stat().st_size > 0
