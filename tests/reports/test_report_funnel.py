from __future__ import annotations

import json
import os
import statistics
from datetime import datetime, timedelta

import pytest

from leadctl.engine.leadquery import LeadFilter
from leadctl.reports.common import DEFAULT_STAGES, stage_list
from leadctl.reports.funnel import funnel_report

from .conftest import NOW, add_lead, pct_cont

D = datetime(2026, 1, 1)


def by_stage(report, cohort=None):
    return {r.stage: r for r in report.rows if r.cohort == cohort}


def test_default_stage_list_is_the_fallback():
    assert [s.name for s in stage_list(None)] == ["new", "mql", "sql", "opportunity", "customer", "lost",
                                                  "disqualified"]
    assert [s.kind for s in stage_list(None)][-3:] == ["won", "lost", "lost"]


def test_skipped_backward_censored_and_lost(store):
    with store.begin() as conn:
        # skipped stages: straight from new to opportunity
        add_lead(conn, history=[("new", D), ("opportunity", D + timedelta(days=2))])
        # moved back by force: new → mql → sql → mql; still in mql (censored at now)
        add_lead(conn, history=[("new", D), ("mql", D + timedelta(days=1)), ("sql", D + timedelta(days=3)),
                                ("mql", D + timedelta(days=4))])
        # lost after mql
        add_lead(conn, history=[("new", D), ("mql", D + timedelta(days=10)), ("lost", D + timedelta(days=12))])
        # won the normal way
        add_lead(conn, history=[("new", D), ("mql", D + timedelta(days=1)), ("sql", D + timedelta(days=2)),
                                ("opportunity", D + timedelta(days=3)), ("customer", D + timedelta(days=5))])
        # no history at all, current stage sql
        add_lead(conn, stage="sql")
    report = funnel_report(store, DEFAULT_STAGES, LeadFilter(), now=NOW)
    s = by_stage(report)
    # the skipped lead counts at mql and sql too; the one moved back keeps sql
    assert [s[n].reached for n in ("new", "mql", "sql", "opportunity", "customer")] == [5, 5, 4, 2, 1]
    assert s["lost"].reached == 1 and s["disqualified"].reached == 0
    assert s["mql"].next_conversion_pct == 80.0 and s["mql"].drop_off == 1
    assert s["opportunity"].cumulative_conversion_pct == 40.0
    assert s["customer"].next_conversion_pct is None and s["customer"].median_days is None
    # time in mql: 2 (then back in mql from day 4, censored at now), 2 (lost at day 12), 1
    censored = (NOW - (D + timedelta(days=4))).total_seconds() / 86400
    mql_days = [2, censored, 2, 1]
    assert s["mql"].median_days == pytest.approx(statistics.median(mql_days), abs=0.05)
    assert s["mql"].p90_days == pytest.approx(pct_cont(mql_days, 0.9), abs=0.05)
    # strict: the skipped lead only reaches new; the backward one passed new → mql → sql in order
    strict = by_stage(funnel_report(store, DEFAULT_STAGES, LeadFilter(), now=NOW, strict=True))
    assert [strict[n].reached for n in ("new", "mql", "sql", "opportunity", "customer")] == [5, 3, 2, 1, 1]


def test_empty_window(store):
    with store.begin() as conn:
        add_lead(conn, history=[("new", D)])
    report = funnel_report(store, DEFAULT_STAGES, LeadFilter(since=datetime(2030, 1, 1)), now=NOW)
    assert all(r.reached == 0 for r in report.rows)
    assert all(r.cumulative_conversion_pct is None and r.median_days is None for r in report.rows)


def test_cohorts_by_month(store):
    with store.begin() as conn:
        add_lead(conn, created_at=datetime(2026, 1, 5), history=[("new", datetime(2026, 1, 5))])
        add_lead(conn, created_at=datetime(2026, 2, 7), history=[("new", datetime(2026, 2, 7)),
                                                                 ("mql", datetime(2026, 2, 8))])
        add_lead(conn, created_at=datetime(2026, 2, 9, 23, 30), history=[("new", datetime(2026, 2, 9))])
    report = funnel_report(store, DEFAULT_STAGES, LeadFilter(), now=NOW, by="month")
    assert report.cohorts == ["2026-01", "2026-02"]
    assert by_stage(report, "2026-02")["new"].reached == 2 and by_stage(report, "2026-02")["mql"].reached == 1
    assert by_stage(report, "2026-01")["mql"].reached == 0
    weeks = funnel_report(store, DEFAULT_STAGES, LeadFilter(), now=NOW, by="week")
    assert weeks.cohorts == ["2026-01-05", "2026-02-02", "2026-02-09"]  # Mondays


def test_funnel_on_olist_matches_an_independent_count(olist_store):
    store, mqls, deals = olist_store
    now = datetime(2018, 12, 31)
    report = funnel_report(store, DEFAULT_STAGES, LeadFilter(), now=now)
    s = by_stage(report)
    won = sum(1 for m in mqls if m["mql_id"] in deals)
    assert s["new"].reached == len(mqls) == s["mql"].reached
    assert s["sql"].reached == s["opportunity"].reached == s["customer"].reached == won
    assert s["mql"].next_conversion_pct == round(100 * won / len(mqls), 1)
    days = []
    for m in mqls:
        start = datetime.fromisoformat(m["first_contact_date"])
        end = datetime.fromisoformat(deals[m["mql_id"]]["won_date"]) if m["mql_id"] in deals else now
        days.append((end - start).total_seconds() / 86400)
    assert s["mql"].median_days == pytest.approx(statistics.median(days), abs=0.06)
    assert s["mql"].p90_days == pytest.approx(pct_cont(days, 0.9), abs=0.06)
    # a window: MQLs of January 2018 only
    jan = [m for m in mqls if m["first_contact_date"].startswith("2018-01")]
    s = by_stage(funnel_report(store, DEFAULT_STAGES, LeadFilter(since=datetime(2018, 1, 1),
                                                                 until=datetime(2018, 2, 1)), now=now))
    assert s["new"].reached == len(jan)
    assert s["customer"].reached == sum(1 for m in jan if m["mql_id"] in deals)


def test_cli_funnel_formats_and_pictures(store, db_url, tmp_path, run):
    with store.begin() as conn:
        add_lead(conn, history=[("new", D), ("mql", D + timedelta(days=1))])
        add_lead(conn, history=[("new", D)])
    res = run(db_url, "report", "funnel")
    assert res.exit_code == 0, res.output
    assert "Funnel — all time" in res.output and "█" in res.output
    res = run(db_url, "report", "funnel", "--format", "json", "--since", "2025-12-01")
    rows = json.loads(res.out)["rows"]
    assert list(rows[0]) == ["cohort", "stage", "label", "kind", "reached", "next_conversion_pct",
                             "cumulative_conversion_pct", "drop_off", "median_days", "p90_days", "segment"]
    assert rows[0]["reached"] == 2 and rows[1]["reached"] == 1
    res = run(db_url, "report", "funnel", "--by", "month", "--format", "csv")
    assert res.out.splitlines()[0].startswith("cohort,stage,label,kind,reached")
    svg, html, out = tmp_path / "f.svg", tmp_path / "f.html", tmp_path / "f.json"
    res = run(db_url, "report", "funnel", "--svg", str(svg), "--html", str(html), "--format", "json",
              "--output", str(out))
    assert res.exit_code == 0, res.output
    assert "<svg" in svg.read_text() and "<html" in html.read_text().lower()
    assert json.loads(out.read_text())["rows"][0]["stage"] == "new"
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(out).st_mode & 0o777 == 0o666 & ~umask  # aggregates: the user's normal file mode
    assert run(db_url, "report", "funnel", "--by", "year").exit_code == 2
    assert run(db_url, "report", "funnel", "--since", "someday").exit_code != 0
