"""One spelling of an activity type: rules, `activity log`, `activity import` and the store agree."""
from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import select

from leadctl.store.models import Activity
from leadctl.words import activity_key

from conftest import add_lead, write_rules

NOW = datetime(2026, 11, 20, 10, 0)

SCORING = """
    engagement:
      rules:
        - {name: Visited, activity: Web.Visit, points: 10}
        - {name: Demo asked, when: {activity.Demo-Requested.count: {gte: 1}}, points: 7}
    """


@pytest.fixture
def run(run_cli, db_url, rules):
    """`leadctl ARGS` against this test's store and rules, at NOW: (exit code, stdout, stderr)."""
    def run(*args: str) -> tuple[int, str, str]:
        r = run_cli("--db", db_url, "--rules", rules, "--now", NOW.isoformat(), *args)
        return r.code, r.out, r.err

    return run


@pytest.fixture
def rules(tmp_path):
    return write_rules(tmp_path / "rules", scoring=SCORING)


@pytest.mark.parametrize("written, key", [
    ("Web.Visit", "web_visit"), ("web visit", "web_visit"), ("Demo-Requested", "demo_requested"),
    ("  Page View ", "page_view"), ("E-mail sent!", "e_mail_sent"), ("Événement", "événement"), ("...", ""),
])
def test_activity_key(written, key):
    assert activity_key(written) == key


def test_a_rule_naming_web_visit_scores_a_logged_web_visit(run, store):
    add_lead(store, at=NOW, email="ada@example.com")
    code, out, err = run("activity", "log", "ada@example.com", "Web.Visit")
    assert code == 0, err
    assert "warning" not in out + err  # the rules know the type: no "unknown type" warning
    code, out, err = run("process")
    assert code == 0, err
    code, out, err = run("leads", "explain", "ada@example.com", "--format", "json")
    assert code == 0, err
    score = json.loads(out)["score"]
    assert score["engagement"] == [{"rule": "Visited", "points": 10, "count": 1}]
    with store.connect() as conn:
        assert conn.execute(select(Activity.__table__.c.type)).scalars().all() == ["web_visit"]


def test_an_activity_count_condition_reads_the_stored_spelling(run, store, tmp_path):
    add_lead(store, at=NOW, email="ada@example.com")
    data = tmp_path / "acts.csv"
    data.write_text("email,type,at\nada@example.com,Demo Requested,2026-11-19T09:00\n")
    code, out, err = run("activity", "import", str(data))
    assert code == 0, err
    code, out, err = run("leads", "explain", "ada@example.com", "--format", "json")
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
