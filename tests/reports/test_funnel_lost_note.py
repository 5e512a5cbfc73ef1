"""The funnel chart's note names the leads that left the funnel in words a slide can carry."""
from __future__ import annotations

from datetime import datetime

from .conftest import add_lead
from .test_report_output import svg_texts

D = datetime(2026, 1, 5, 9, 0)


def test_funnel_chart_says_how_many_left_the_funnel_and_where(store, db_url, tmp_path, run):
    with store.begin() as conn:
        add_lead(conn, source="Webinar", history=[("new", D), ("mql", D)], created_at=D)
        add_lead(conn, source="Webinar", history=[("new", D), ("lost", D)], created_at=D)
        add_lead(conn, source="Webinar", history=[("new", D), ("lost", D)], created_at=D)
    svg = tmp_path / "funnel.svg"
    res = run(db_url, "report", "funnel", "--svg", str(svg))
    assert res.exit_code == 0, res.output
    note = next(t for t in svg_texts(svg) if t.startswith("as of "))
    assert note.endswith("· left the funnel: Lost 2"), note
