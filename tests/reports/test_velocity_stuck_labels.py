"""`report velocity --stuck` names stages by their display names, as every other report does."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from .conftest import add_lead

D = datetime(2026, 1, 5, 9, 0)


def test_stuck_leads_show_the_stage_display_name(store, db_url, run):
    with store.begin() as conn:
        for _ in range(6):  # six leads left New after a day: its p90 is one day
            add_lead(conn, created_at=D, history=[("new", D), ("mql", D + timedelta(days=1))])
        stuck = add_lead(conn, created_at=D, stage_changed_at=D, history=[("new", D)])
    table = run(db_url, "report", "velocity", "--stuck")
    assert table.exit_code == 0, table.output
    line = next(ln for ln in table.out.splitlines() if f" {stuck} " in ln)
    assert "New" in line and " new " not in line
    rows = json.loads(run(db_url, "report", "velocity", "--stuck", "--format", "json").out)["rows"]
    assert [(r["lead_id"], r["stage"], r["stage_label"]) for r in rows] == [(stuck, "new", "New")]
