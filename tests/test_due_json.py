"""`followups due --format json|csv`: stable types (issue 14: `"overdue": ""`), on both start-up paths."""
from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from tests.test_remind_sweep import SWEEP, cli, leadctl, rules_dir, seed  # noqa: F401  (fixtures)


def test_due_json_overdue_is_a_boolean_and_the_lateness_text_or_null(store, rules_dir, leadctl):  # noqa: F811
    seed(store, rules_dir)
    later = (SWEEP + timedelta(hours=3)).isoformat()
    code, out, err = leadctl("--now", later, "followups", "due", "--format", "json")
    assert code == 0, err
    tasks = json.loads(out)
    assert tasks
    for t in tasks:
        assert isinstance(t["overdue"], bool)
        assert (t["overdue_by"] is None) is (not t["overdue"])
    assert any(t["overdue"] and t["overdue_by"][-1] in "mhd" for t in tasks)
    code, out, err = leadctl("--now", later, "followups", "due", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["overdue"] for r in rows} <= {"true", "false"} and "overdue_by" in rows[0]
