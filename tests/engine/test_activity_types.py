"""One spelling of an activity type: rules, `activity log`, `activity import` and the store agree."""
from __future__ import annotations

import json
import textwrap
from datetime import datetime

import pytest
from sqlalchemy import select

from leadctl.cli.app import main
from leadctl.store.models import Activity, Lead
from leadctl.words import activity_key

NOW = datetime(2026, 11, 20, 10, 0)
LEADS = Lead.__table__

SCORING = """
    engagement:
      rules:
        - {name: Visited, activity: Web.Visit, points: 10}
        - {name: Demo asked, when: {activity.Demo-Requested.count: {gte: 1}}, points: 7}
    """


def run(capsys, db_url, rules, *args) -> tuple[int, str, str]:
    """`leadctl ARGS` through main(), as a user runs it: (exit code, stdout, stderr)."""
    argv = ["--db", db_url, "--rules", str(rules), "--now", "2026-11-20T10:00", *args]
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def rules(tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "scoring.yaml").write_text(textwrap.dedent(SCORING))
    return folder


@pytest.mark.parametrize("written, key", [
    ("Web.Visit", "web_visit"), ("web visit", "web_visit"), ("Demo-Requested", "demo_requested"),
    ("  Page View ", "page_view"), ("E-mail sent!", "e_mail_sent"), ("Événement", "événement"), ("...", ""),
])
def test_activity_key(written, key):
    assert activity_key(written) == key


def test_a_rule_naming_web_visit_scores_a_logged_web_visit(capsys, store, db_url, rules):
    with store.begin() as conn:
        conn.execute(LEADS.insert(), [{"email": "ada@example.com", "created_at": NOW, "updated_at": NOW}])
    code, out, err = run(capsys, db_url, rules, "activity", "log", "ada@example.com", "Web.Visit")
    assert code == 0, err
    assert "warning" not in out + err  # the rules know the type: no "unknown type" warning
    code, out, err = run(capsys, db_url, rules, "process")
    assert code == 0, err
    code, out, err = run(capsys, db_url, rules, "leads", "explain", "ada@example.com", "--format", "json")
    assert code == 0, err
    score = json.loads(out)["score"]
    assert score["engagement"] == [{"rule": "Visited", "points": 10, "count": 1}]
    with store.connect() as conn:
        assert conn.execute(select(Activity.__table__.c.type)).scalars().all() == ["web_visit"]


def test_an_activity_count_condition_reads_the_stored_spelling(capsys, store, db_url, rules, tmp_path):
    with store.begin() as conn:
        conn.execute(LEADS.insert(), [{"email": "ada@example.com", "created_at": NOW, "updated_at": NOW}])
    data = tmp_path / "acts.csv"
    data.write_text("email,type,at\nada@example.com,Demo Requested,2026-11-19T09:00\n")
    code, out, err = run(capsys, db_url, rules, "activity", "import", str(data))
    assert code == 0, err
    code, out, err = run(capsys, db_url, rules, "leads", "explain", "ada@example.com", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["score"]["engagement"] == [{"rule": "Demo asked", "points": 7}]


def test_process_runs_routing_after_the_sla_check_and_follow_ups():
    """Every step is imported, not looked up: a renamed class fails loudly instead of switching routing off."""
    from leadctl.engine.followups import FollowupStep
    from leadctl.engine.process import load_steps
    from leadctl.engine.routing import RoutingStep
    from leadctl.engine.sla import sla_check
    from leadctl.model.step import PredictStep

    predict, routing, followups = load_steps()
    assert isinstance(predict, PredictStep)
    assert isinstance(routing, RoutingStep) and routing.checks == (sla_check,)
    assert isinstance(followups, FollowupStep)
