from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime

from leadctl.engine.leadquery import LeadFilter
from leadctl.reports.common import DEFAULT_STAGES
from leadctl.reports.scoring import band_label, scoring_report

from .conftest import add_lead

D = datetime(2026, 1, 10)


def test_band_labels():
    assert [band_label(i, 10) for i in (0, 1, 9)] == ["0-9", "10-19", "90-100"]
    assert [band_label(i, 3) for i in range(3)] == ["0-33", "34-66", "67-100"]


def test_scoring_by_band_and_grade(store):
    with store.begin() as conn:
        for score, grade, won in [(5, "C3", False), (15, "C3", False), (95, "A1", True), (100, "A1", True),
                                  (90, "A1", False), (-5, None, False), (55, "B2", True)]:
            add_lead(conn, score=score, grade=grade, history=[("new", D)] + ([("customer", D)] if won else []))
    report = scoring_report(store, DEFAULT_STAGES, LeadFilter(), bands=10)
    bands = {r.bucket: r for r in report.rows if r.dimension == "score"}
    assert (bands["0-9"].leads, bands["10-19"].leads, bands["90-100"].leads) == (2, 1, 3)
    assert bands["90-100"].won == 2 and bands["90-100"].won_rate_pct == 66.7
    assert report.won_rate_pct == round(100 * 3 / 7, 1)
    assert bands["90-100"].lift == round((2 / 3) / (3 / 7), 2)
    grades = {r.bucket: r for r in report.rows if r.dimension == "grade"}
    assert (grades["A1"].leads, grades["A1"].won, grades["(none)"].leads) == (3, 2, 1)
    assert len(bands) == 10 and bands["50-59"].won == 1


def test_scoring_on_olist(olist_store):
    store, mqls, deals = olist_store
    report = scoring_report(store, DEFAULT_STAGES, LeadFilter(), bands=4)
    # the fixture scores lead i as i % 101
    leads, won = Counter(), Counter()
    for i, m in enumerate(mqls, start=1):
        band = min((i % 101) * 4 // 100, 3)
        leads[band] += 1
        won[band] += m["mql_id"] in deals
    rows = [r for r in report.rows if r.dimension == "score"]
    assert [r.leads for r in rows] == [leads[b] for b in range(4)]
    assert [r.won for r in rows] == [won[b] for b in range(4)]


def test_cli_scoring(store, db_url, tmp_path, run):
    with store.begin() as conn:
        add_lead(conn, score=80, grade="A1", history=[("new", D), ("customer", D)])
        add_lead(conn, score=20, grade="C3")
    res = run(db_url, "report", "scoring", "--bands", "5", "--format", "csv")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.output)))
    assert rows[0].keys() == {"dimension", "bucket", "leads", "won", "won_rate_pct", "lift"}
    assert [r["bucket"] for r in rows[:5]] == ["0-19", "20-39", "40-59", "60-79", "80-100"]
    svg = tmp_path / "s.svg"
    res = run(db_url, "report", "scoring", "--svg", str(svg))
    assert res.exit_code == 0 and "Scoring calibration" in res.output and svg.stat().st_size > 0
    assert run(db_url, "report", "scoring", "--bands", "0").exit_code == 2
