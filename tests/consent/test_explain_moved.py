"""leads explain shows why a follow-up moved (a contact limit or quiet hours), not only the JSON."""
from __future__ import annotations

from datetime import datetime

from test_limits import followups_yaml, run_step

from leadctl.rules.loader import load_rules

import conftest as factories

NOW = datetime(2026, 11, 20, 10, 0)


def test_the_explain_table_says_why_a_step_moved(store, db_url, tmp_path, run_cli):
    folder = factories.write_rules(tmp_path / "r", followups=followups_yaml([("2h", "call")], [],
                                                                            quiet="20:00-08:00"))
    lid = factories.add_lead(store, at=NOW, temperature="hot", country="JP")
    run_step(store, load_rules(str(folder)), lid)
    r = run_cli("--db", db_url, "--rules", folder, "--now", NOW.isoformat(), "leads", "explain", str(lid),
                env={"LEADCTL_WIDTH": "250"})  # wide: the note is one line
    assert r.code == 0, r.output
    assert "quiet hours 20:00-08:00 (Asia/Tokyo)" in " ".join(r.out.split())
