"""Cadence entry, stop and switch; inactivity tasks; idempotent re-runs; completing tasks."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from leadctl.engine.followups import (
    complete_matching_task,
    complete_task,
    create_inactivity_tasks,
    due_tasks,
    snooze_task,
)
from leadctl.errors import NotFoundError, UsageError
from leadctl.rules.loader import load_rules
from leadctl.store.models import Followup, Lead

import conftest as factories

FOLLOWUPS_YAML = """
business_hours: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
cadences:
""" + factories.HOT_LEAD_CADENCE + """\
  - name: Nurture
    when: {temperature: warm}
    steps:
      - {after: 2d, action: email}
      - {after: 1w, action: email}
inactivity:
  - name: Gone quiet
    when: {stage: [mql, sql], days_since_activity: {gte: 14}}
    action: call
"""
ROUTING_YAML = """
owners:
  - {name: dana, email: dana@example.com, timezone: Europe/Berlin}
  - {name: priya, email: priya@example.com, timezone: America/New_York}
"""
NOW = datetime(2026, 11, 20, 15, 55)   # Friday 16:55 in Berlin


@pytest.fixture
def rules(tmp_path):
    return load_rules(factories.write_rules(tmp_path / "rules", followups=FOLLOWUPS_YAML, routing=ROUTING_YAML))


def add_lead(store, **values):
    """A lead created 30 days before NOW and updated at NOW."""
    return factories.add_lead(store, at=NOW, **{"created_at": NOW - timedelta(days=30), **values})


def lead_dicts(store, ids):
    with store.connect() as conn:
        rows = conn.execute(select(Lead.__table__).where(Lead.__table__.c.id.in_(ids)).order_by(Lead.__table__.c.id))
        out = [dict(r._mapping) for r in rows]
    for d in out:
        d["activity"] = {}
    return out


def run_step(store, rules, leads, now=NOW):
    with store.begin() as conn:
        return factories.run_followup_step(conn, rules, leads, now)


def tasks(store, lead_id=None):
    t = Followup.__table__
    q = select(t).order_by(t.c.id)
    if lead_id is not None:
        q = q.where(t.c.lead_id == lead_id)
    with store.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def test_hot_lead_enters_cadence_with_business_hour_due_times(store, rules):
    lid = add_lead(store, temperature="hot", owner="dana", first_name="Ada", last_name="Lovelace",
                   email="ada@x.com")
    counts = run_step(store, rules, lead_dicts(store, [lid]))
    rows = tasks(store, lid)
    assert [(r["cadence"], r["step"], r["action"], r["status"]) for r in rows] == [
        ("Hot lead", 1, "call", "pending"), ("Hot lead", 2, "email", "pending"), ("Hot lead", 3, "call", "pending")]
    # 15 min from Friday 16:55 Berlin = Monday 09:10 Berlin (08:10 UTC)
    assert rows[0]["due_at"] == datetime(2026, 11, 23, 8, 10)
    # +1d from Monday 09:10 = Tuesday 09:10; +3d = Friday 09:10 (Berlin)
    assert rows[1]["due_at"] == datetime(2026, 11, 24, 8, 10)
    assert rows[2]["due_at"] == datetime(2026, 11, 27, 8, 10)
    assert all(r["owner"] == "dana" and r["kind"] == "cadence" for r in rows)
    assert counts["tasks_created"] == 3


def test_owner_time_zone_decides_due_time(store, rules):
    lid = add_lead(store, temperature="hot", owner="priya")
    run_step(store, rules, lead_dicts(store, [lid]))
    # 10:55 New York on Friday: open, so 15 minutes later is 11:10 New York = 16:10 UTC
    assert tasks(store, lid)[0]["due_at"] == datetime(2026, 11, 20, 16, 10)


def test_unassigned_lead_uses_utc_hours(store, rules):
    lid = add_lead(store, temperature="hot")
    run_step(store, rules, lead_dicts(store, [lid]))
    first = tasks(store, lid)[0]
    assert first["owner"] is None and first["due_at"] == datetime(2026, 11, 20, 16, 10)


def test_rerun_creates_nothing_twice(store, rules):
    lid = add_lead(store, temperature="hot", owner="dana")
    run_step(store, rules, lead_dicts(store, [lid]))
    counts = run_step(store, rules, lead_dicts(store, [lid]), now=NOW + timedelta(hours=5))
    assert len(tasks(store, lid)) == 3 and counts["tasks_created"] == 0


def test_stop_when_cancels_pending_steps(store, rules):
    lid = add_lead(store, temperature="hot", owner="dana")
    run_step(store, rules, lead_dicts(store, [lid]))
    with store.begin() as conn:
        complete_matching_task(conn, lid, "call", datetime(2026, 11, 23, 8, 30))
    leads = lead_dicts(store, [lid])
    leads[0]["stage"] = "opportunity"
    counts = run_step(store, rules, leads, now=NOW + timedelta(days=3))
    assert [r["status"] for r in tasks(store, lid)] == ["done", "cancelled", "cancelled"]
    assert counts["tasks_cancelled"] == 2
    # Still hot, but stopped: it does not enter again on the next run.
    assert run_step(store, rules, leads, now=NOW + timedelta(days=4))["tasks_created"] == 0


def test_stopped_lead_never_enters(store, rules):
    lid = add_lead(store, temperature="hot", stage="customer", owner="dana")
    assert run_step(store, rules, lead_dicts(store, [lid]))["tasks_created"] == 0
    assert tasks(store, lid) == []


def test_switching_cadence_cancels_old_and_enters_new(store, rules):
    lid = add_lead(store, temperature="warm", owner="dana")
    run_step(store, rules, lead_dicts(store, [lid]))
    assert {r["cadence"] for r in tasks(store, lid)} == {"Nurture"}
    leads = lead_dicts(store, [lid])
    leads[0]["temperature"] = "hot"
    run_step(store, rules, leads, now=NOW + timedelta(days=1))
    rows = tasks(store, lid)
    assert [(r["cadence"], r["status"]) for r in rows] == [
        ("Nurture", "cancelled"), ("Nurture", "cancelled"),
        ("Hot lead", "pending"), ("Hot lead", "pending"), ("Hot lead", "pending")]
    assert "moved to cadence 'Hot lead'" in rows[0]["note"]
    # Back to warm: leaves Hot lead, but Nurture was run before and is not entered twice.
    leads[0]["temperature"] = "warm"
    run_step(store, rules, leads, now=NOW + timedelta(days=2))
    assert [r["status"] for r in tasks(store, lid)] == ["cancelled"] * 5


def test_no_matching_cadence_keeps_pending_steps(store, rules):
    lid = add_lead(store, temperature="hot", owner="dana")
    run_step(store, rules, lead_dicts(store, [lid]))
    leads = lead_dicts(store, [lid])
    leads[0]["temperature"] = "cold"
    run_step(store, rules, leads)
    assert [r["status"] for r in tasks(store, lid)] == ["pending"] * 3


def test_reassigned_lead_moves_its_pending_tasks(store, rules):
    lid = add_lead(store, temperature="hot", owner="dana")
    run_step(store, rules, lead_dicts(store, [lid]))
    t = Followup.__table__
    with store.begin() as conn:
        conn.execute(t.update().values(reminded_at=NOW))
    leads = lead_dicts(store, [lid])
    leads[0]["owner"] = "priya"
    assert run_step(store, rules, leads)["tasks_reassigned"] == 3
    assert all(r["owner"] == "priya" and r["reminded_at"] is None for r in tasks(store, lid))


def test_inactivity_task_once_per_quiet_spell(store, rules):
    quiet = add_lead(store, stage="mql", owner="dana", last_activity_at=NOW - timedelta(days=20))
    busy = add_lead(store, stage="mql", owner="dana", last_activity_at=NOW - timedelta(days=2))
    never = add_lead(store, stage="new", owner="dana", last_activity_at=NOW - timedelta(days=40))
    run_step(store, rules, lead_dicts(store, [quiet, busy, never]))
    rows = tasks(store)
    assert [(r["lead_id"], r["kind"], r["cadence"], r["action"]) for r in rows] == [
        (quiet, "inactivity", "Gone quiet", "call")]
    # Due now, fitted into Dana's hours: Friday 16:55 Berlin is open.
    assert rows[0]["due_at"] == NOW
    run_step(store, rules, lead_dicts(store, [quiet, busy, never]))
    assert len(tasks(store)) == 1
    # Done without new activity: the spell is covered, nothing new.
    with store.begin() as conn:
        complete_task(conn, rows[0]["id"], NOW, "left a voicemail")
        assert create_inactivity_tasks(conn, rules, NOW + timedelta(days=1)) == 0
    run_step(store, rules, lead_dicts(store, [quiet]), now=NOW + timedelta(days=1))
    assert len(tasks(store)) == 1
    # A new quiet spell (activity after the task, then 14 days of silence) gets a new task.
    with store.begin() as conn:
        conn.execute(Lead.__table__.update().where(Lead.__table__.c.id == quiet)
                     .values(last_activity_at=NOW + timedelta(days=2)))
        assert create_inactivity_tasks(conn, rules, NOW + timedelta(days=10)) == 0
        assert create_inactivity_tasks(conn, rules, NOW + timedelta(days=17)) == 2   # and `busy` went quiet too
    assert [(r["lead_id"], r["status"]) for r in tasks(store)] == [(quiet, "done"), (quiet, "pending"),
                                                                    (busy, "pending")]


def test_sweep_inactivity_matches_the_step(store, rules):
    ids = [add_lead(store, stage=s, owner=o, last_activity_at=NOW - timedelta(days=d))
           for s, o, d in [("mql", "dana", 20), ("sql", None, 15), ("mql", "priya", 13), ("lost", "dana", 30)]]
    with store.begin() as conn:
        assert create_inactivity_tasks(conn, rules, NOW) == 2
        assert create_inactivity_tasks(conn, rules, NOW) == 0
    assert sorted(r["lead_id"] for r in tasks(store)) == ids[:2]
    assert run_step(store, rules, lead_dicts(store, ids))["tasks_created"] == 0


def test_complete_matching_task_by_activity_type(store, rules):
    lid = add_lead(store, temperature="hot", owner="dana")
    run_step(store, rules, lead_dicts(store, [lid]))
    call1, email, call3 = [r["id"] for r in tasks(store, lid)]
    with store.begin() as conn:
        # A meeting matches nothing; an e-mail long before its step is not that step.
        assert complete_matching_task(conn, lid, "meeting", NOW) is None
        assert complete_matching_task(conn, lid, "email_sent", NOW) is None
        # Calling a few minutes early does the planned call.
        assert complete_matching_task(conn, lid, "Call", datetime(2026, 11, 23, 8, 0)) == call1
        assert complete_matching_task(conn, lid, "email", datetime(2026, 11, 24, 9, 0)) == email
        # The next call is days away: a call now does not tick it off.
        assert complete_matching_task(conn, lid, "call", datetime(2026, 11, 24, 9, 0)) is None
        assert complete_matching_task(conn, lid, "call", datetime(2026, 11, 27, 9, 0)) == call3
    rows = tasks(store, lid)
    assert [r["status"] for r in rows] == ["done"] * 3
    assert rows[0]["completed_at"] == datetime(2026, 11, 23, 8, 0)


def test_done_and_snooze_by_id(store, rules):
    lid = add_lead(store, temperature="hot", owner="dana", first_name="Ada", last_name="Lovelace",
                   email="ada@x.com")
    run_step(store, rules, lead_dicts(store, [lid]))
    call1, email, _ = [r["id"] for r in tasks(store, lid)]
    monday = datetime(2026, 11, 23, 8, 30)
    with store.begin() as conn:
        conn.execute(Followup.__table__.update().values(reminded_at=monday))
        ch = snooze_task(conn, rules, call1, "2h", datetime(2026, 11, 23, 15, 30))   # 16:30 Berlin
        assert ch.due_local == "2026-11-24 10:30 Europe/Berlin"
        done = complete_task(conn, email, monday, note="sent the recap")
        assert done.status == "done"
        with pytest.raises(UsageError):
            complete_task(conn, email, monday)
        with pytest.raises(NotFoundError):
            complete_task(conn, 999, monday)
        with pytest.raises(UsageError):
            snooze_task(conn, rules, call1, "soon", monday)
    rows = {r["id"]: r for r in tasks(store, lid)}
    assert rows[call1]["reminded_at"] is None and rows[call1]["due_at"] == datetime(2026, 11, 24, 9, 30)
    assert rows[email]["note"] == "sent the recap" and rows[email]["completed_at"] == monday


def test_due_tasks_listing(store, rules):
    a = add_lead(store, temperature="hot", owner="dana", first_name="Ada", last_name="Lovelace", email="ada@x.com")
    b = add_lead(store, temperature="hot", owner="priya", company="Acme")
    run_step(store, rules, lead_dicts(store, [a, b]))
    with store.connect() as conn:
        at = datetime(2026, 11, 23, 10, 10)
        rows = due_tasks(conn, rules, at)
        assert [(t.lead_id, t.action, t.overdue) for t in rows] == [(b, "call", "2d"), (a, "call", "2h")]
        assert rows[1].lead == "Ada Lovelace <ada@x.com>" and rows[0].lead == "Acme"
        assert rows[1].due_local == "2026-11-23 09:10 Europe/Berlin"
        assert [t.lead_id for t in due_tasks(conn, rules, at, owner="DANA@example.com")] == [a]
        assert len(due_tasks(conn, rules, at, until=datetime(2026, 12, 31))) == 6
        assert len(due_tasks(conn, rules, at, until=datetime(2026, 12, 31), overdue=True)) == 2
        assert len(due_tasks(conn, rules, at, limit=1)) == 1
        assert due_tasks(conn, rules, at, owner="unassigned") == []


def test_process_leads_end_to_end_is_idempotent(store, rules):
    from leadctl.engine.process import process_leads

    hot = add_lead(store, temperature="hot", owner="dana")
    warm = add_lead(store, temperature="warm", owner="priya")
    quiet = add_lead(store, stage="mql", owner="dana", last_activity_at=NOW - timedelta(days=20))
    process_leads(store, rules, now=NOW)
    first = tasks(store)
    assert {(r["lead_id"], r["cadence"]) for r in first} == {
        (hot, "Hot lead"), (warm, "Nurture"), (quiet, "Gone quiet")}
    assert len(first) == 6
    result = process_leads(store, rules, now=NOW + timedelta(hours=1))
    assert tasks(store) == first and result.counts["tasks_created"] == 0
    dry = process_leads(store, rules, now=NOW, dry_run=True)
    assert tasks(store) == first and dry.counts["tasks_created"] == 0
