"""The sweep's incremental inactivity scan: it finds every lead a full scan would find.

After each sweep a full scan (run and rolled back) must find nothing more: the oracle. The
steps move the clock, write leads, log activities, close tasks, change the rules and move
the clock back; the narrowed scan must keep up with each. SQLite and PostgreSQL alike.
"""
from __future__ import annotations

import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from leadctl.engine.bizhours import Calendars, owner_zones
from leadctl.engine.followups import create_inactivity_tasks
from leadctl.engine.remind import SWEPT, _state, remind, time_windows
from leadctl.rules.loader import load_rules
from leadctl.store import dirty
from leadctl.store.db import get_meta, set_meta
from leadctl.store.models import Activity, Followup, Lead

T0 = datetime(2026, 11, 20, 11, 0)   # a Friday, in business hours
QUIET = """
business_hours: {days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "23:59"}
inactivity:
  - name: Gone quiet
    when: {stage: [mql, sql], days_since_activity: {gte: %d}, do_not_contact: {ne: true}}
    action: call
"""
LEADS, TASKS = Lead.__table__, Followup.__table__
REPO_RULES = Path(__file__).resolve().parents[1] / "leadctl" / "default_rules"


@pytest.fixture
def world(store, tmp_path):
    """A store with the dirty-lead trigger, a finished `process` run (number 1) stamped on every
    lead, and `rules(days)`: the rule set with that quiet threshold."""
    folder = tmp_path / "rules"
    folder.mkdir()

    def rules(days: int = 14):
        (folder / "followups.yaml").write_text(textwrap.dedent(QUIET % days))
        return load_rules(folder)

    with store.begin() as conn:
        dirty.install(conn)
        set_meta(conn, "process.run", "1")
        set_meta(conn, "process.done", "1")
    return rules


def add(store, name: str, *, quiet_days: float, stage: str = "mql", **values) -> int:
    """A lead last active `quiet_days` before T0, stamped by run 1."""
    with store.begin() as conn:
        row = dict(first_name=name, stage=stage, created_at=T0 - timedelta(days=60), updated_at=T0,
                   last_activity_at=T0 - timedelta(days=quiet_days), processed=1, **values)
        return conn.execute(LEADS.insert().values(**row)).inserted_primary_key[0]


def tasks_of(store) -> dict[str, int]:
    with store.connect() as conn:
        q = (select(LEADS.c.first_name, func.count(TASKS.c.id)).select_from(LEADS.outerjoin(TASKS))
             .group_by(LEADS.c.first_name))
        return {name: n for name, n in conn.execute(q)}


def sweep_and_check(store, rules, now: datetime) -> dict[str, int]:
    """Run a sweep at `now`; a full scan right after must find nothing; the tasks per lead."""
    remind(store, rules, now)
    with store.connect() as conn:
        trans = conn.begin()
        try:
            missed = create_inactivity_tasks(conn, rules, now, Calendars(rules.followups.business_hours,
                                                                        owner_zones(conn, rules)))
        finally:
            trans.rollback()
    assert missed == 0, "the incremental scan missed leads a full scan finds"
    return tasks_of(store)


def test_the_narrowed_scan_finds_what_a_full_scan_finds(store, world):
    rules = world()
    add(store, "Quiet", quiet_days=30)
    add(store, "Soon", quiet_days=10)          # crosses 14 days four days later
    add(store, "Blocked", quiet_days=30, do_not_contact=True)
    add(store, "Fresh", quiet_days=1)
    assert sweep_and_check(store, rules, T0) == {"Quiet": 1, "Soon": 0, "Blocked": 0, "Fresh": 0}
    with store.connect() as conn:
        assert get_meta(conn, SWEPT) is not None
    # time alone: Soon crosses its threshold between the sweeps
    assert sweep_and_check(store, rules, T0 + timedelta(days=5))["Soon"] == 1
    # a write to a stamped lead (the trigger clears its stamp): Blocked may be contacted now
    with store.begin() as conn:
        conn.execute(LEADS.update().where(LEADS.c.first_name == "Blocked").values(do_not_contact=False))
    assert sweep_and_check(store, rules, T0 + timedelta(days=5, hours=1))["Blocked"] == 1
    # a `process` run that finished stamps what it wrote with a newer number
    with store.begin() as conn:
        set_meta(conn, "process.run", "2")
        conn.execute(LEADS.update().where(LEADS.c.first_name == "Fresh").values(stage="sql", processed=2,
                                          last_activity_at=T0 - timedelta(days=20)))
        set_meta(conn, "process.done", "2")
    assert sweep_and_check(store, rules, T0 + timedelta(days=5, hours=2))["Fresh"] == 1


def test_a_closed_task_and_a_new_activity_are_seen(store, world):
    rules = world()
    lead = add(store, "Quiet", quiet_days=30)
    assert sweep_and_check(store, rules, T0)["Quiet"] == 1
    # An activity after the task (its type does not complete it) and two quiet weeks: still covered
    # while the task is open; closing the task uncovers the lead, without a write to the lead.
    with store.begin() as conn:
        conn.execute(Activity.__table__.insert().values(lead_id=lead, type="note", at=T0 + timedelta(hours=1)))
        conn.execute(LEADS.update().where(LEADS.c.id == lead).values(last_activity_at=T0 + timedelta(hours=1)))
        set_meta(conn, "process.run", "2")   # then a `process` run evaluates it and finishes
        conn.execute(LEADS.update().where(LEADS.c.id == lead).values(processed=2))
        set_meta(conn, "process.done", "2")
    later = T0 + timedelta(days=16)
    assert sweep_and_check(store, rules, later)["Quiet"] == 1
    with store.begin() as conn:
        conn.execute(TASKS.update().values(status="done", completed_at=later + timedelta(minutes=1)))
    assert sweep_and_check(store, rules, later + timedelta(minutes=5))["Quiet"] == 2


def test_other_rules_or_an_earlier_clock_scan_every_lead(store, world):
    rules = world(14)
    add(store, "Ten", quiet_days=10)
    assert sweep_and_check(store, rules, T0)["Ten"] == 0
    # a 7-day rule: Ten is past it, though nothing crossed anything since the last sweep
    assert sweep_and_check(store, world(7), T0 + timedelta(minutes=5))["Ten"] == 1
    add(store, "Back", quiet_days=9)
    # the clock back: a lead stamped and quiet long enough at that earlier time is still found
    assert sweep_and_check(store, world(7), T0 - timedelta(days=1))["Back"] == 1


def test_a_process_run_still_going_is_not_trusted(store, world):
    with store.begin() as conn:
        set_meta(conn, "process.run", "3")       # started, not finished: its stamps may still come
        assert _state(conn)["run"] == 1
        set_meta(conn, "process.done", "3")
        assert _state(conn)["run"] == 3


@pytest.mark.parametrize("spec, analysable", [
    ({"days_since_activity": {"gte": 14}}, True),
    ({"stage": "mql", "all": [{"days_since_created": {"gt": 3}}], "score": {"gte": 50}}, True),
    ([{"last_activity_at": {"older_than": "14d"}}, {"temperature": "hot"}], True),
    ({"days_since_activity": {"lt": 14}}, False),                # turns false with time
    ({"last_activity_at": {"within": "3d"}}, False),
    ({"any": [{"days_since_activity": {"gte": 14}}, {"score": 90}]}, False),
    ({"not": {"created_at": {"older_than": "1d"}}}, False),
    ({"activity.call.last": {"older_than": "7d"}}, False),
    ({"attributes.renewal": {"within": "30d"}}, False),
    ({"stage": "mql", "do_not_contact": {"ne": True}}, True),    # time plays no part: written leads only
])
def test_which_conditions_the_clock_can_turn(spec, analysable):
    windows = time_windows(spec, T0, T0 + timedelta(hours=1))
    assert (windows is not None) == analysable


# ---------------------------------------------------------------- the start-up path of an idle sweep
def write_leads(path) -> str:
    """Two hot leads and a warm one, to import and process (cadences, routing, SLA clocks)."""
    path.write_text("first_name,email,temperature\nAda,ada@x.com,hot\nAlan,alan@x.com,hot\nWarm,w@x.com,warm\n")
    return str(path)


def test_an_idle_sweep_on_the_start_up_path_is_one_the_ordinary_path_would_not_act_in(
        store, db_url, tmp_path, monkeypatch, run_cli):
    """At each moment: when the start-up path takes the sweep (printing nothing), the ordinary
    sweep on a copy of the store prints nothing and creates, sends and marks nothing either."""
    import shutil
    import sqlite3

    from leadctl.cli import fast

    if "://" in db_url:
        pytest.skip("the start-up path reads SQLite stores only")
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "followups.yaml").write_text(textwrap.dedent(QUIET % 14 + """
        cadences:
          - name: Hot lead
            when: {temperature: hot}
            steps:
              - {after: 15m, action: call}
              - {after: 1d, action: email}
        """.replace("\n        ", "\n")))
    shutil.copy(REPO_RULES / "routing.yaml", rules / "routing.yaml")    # with SLA rules
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    add(store, "Quiet", quiet_days=30)
    add(store, "Soon", quiet_days=12)
    run_cli("--db", db_url, "--rules", rules, "--now", T0.isoformat(), "import",
            write_leads(tmp_path / "hot.csv"))
    run_cli("--db", db_url, "--rules", rules, "--now", T0.isoformat(), "process")
    taken: list[bool] = []
    real = fast.run
    monkeypatch.setattr(fast, "run", lambda argv: taken.append(real(argv)) or taken[-1])

    def counts(path: str) -> tuple:
        con = sqlite3.connect(path)
        try:
            return tuple(con.execute(q).fetchone()[0] for q in (
                "SELECT count(*) FROM followups", "SELECT count(*) FROM followups WHERE reminded_at IS NOT NULL",
                "SELECT count(*) FROM sla_breaches", "SELECT count(*) FROM assignments"))
        finally:
            con.close()

    # The SLA rule "touched within a business day" breaches the leads routed at T0 just after T0 + 1d;
    # Soon (quiet 12 days at T0) crosses the 14-day threshold at T0 + 2d; in between: idle moments.
    day, hour = timedelta(days=1), timedelta(hours=1)
    moments = [T0, T0 + timedelta(minutes=5), T0 + timedelta(minutes=20), T0 + timedelta(minutes=25), T0 + 3 * hour,
               T0 + day, T0 + day + hour, T0 + day + 4 * hour, T0 + 2 * day + hour, T0 + 2 * day + 2 * hour,
               T0 + 2 * day + 2 * hour, T0 + 30 * day]
    for at in moments:
        copy = str(tmp_path / "copy.db")
        src, dst = sqlite3.connect(db_url), sqlite3.connect(copy)
        src.backup(dst)
        src.close()
        dst.close()
        res = run_cli("--db", db_url, "--rules", rules, "--now", at.isoformat(), "followups", "remind")
        assert res.code == 0, res.err
        if taken[-1]:
            assert (res.out, res.err) == ("", "")
            before = counts(copy)
            ordinary = run_cli("--db", copy, "--rules", rules, "--now", at.isoformat(), "followups", "remind",
                               env={"LEADCTL_RULES_CACHE": "0"})
            assert (ordinary.code, ordinary.out, ordinary.err) == (0, "", "")
            assert counts(copy) == before
    assert True in taken and False in taken


def test_the_start_up_path_knows_consent_and_the_rules_stage(store, db_url, world, tmp_path, monkeypatch, run_cli):
    """A due task on a channel the lead opted out of, and a lead in a stage the rule does not name
    crossing its quiet threshold: neither is work for the sweep, so the start-up path takes it as idle —
    and the ordinary sweep on a copy of the store does nothing either."""
    import sqlite3

    from leadctl.cli import fast

    if "://" in db_url:
        pytest.skip("the start-up path reads SQLite stores only")
    world(14)
    rules = tmp_path / "rules"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    lost = add(store, "Lost", quiet_days=13.5, stage="disqualified")
    blocked = add(store, "Blocked", quiet_days=1, consent_phone="opted_out")
    with store.begin() as conn:
        conn.execute(TASKS.insert().values(lead_id=blocked, kind="cadence", cadence="Hot", step=1, action="call",
                                           due_at=T0 - timedelta(hours=1), status="pending",
                                           created_at=T0 - timedelta(days=1)))
    base = ("--db", db_url, "--rules", rules)
    first = run_cli(*base, "--now", T0.isoformat(), "followups", "remind")   # the ordinary sweep; fills the cache
    assert (first.code, first.out) == (0, "")
    taken: list[bool] = []
    real = fast.run
    monkeypatch.setattr(fast, "run", lambda argv: taken.append(real(argv)) or taken[-1])
    later = (T0 + timedelta(days=1)).isoformat()   # Lost is 14.5 days quiet by then
    copy = str(tmp_path / "copy.db")
    src, dst = sqlite3.connect(db_url), sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    res = run_cli(*base, "--now", later, "followups", "remind")
    assert taken == [True] and (res.code, res.out, res.err) == (0, "", "")
    ordinary = run_cli("--db", copy, "--rules", rules, "--now", later, "followups", "remind",
                       env={"LEADCTL_RULES_CACHE": "0"})
    assert (ordinary.code, ordinary.out, ordinary.err) == (0, "", "")
    con = sqlite3.connect(copy)
    try:
        assert con.execute("SELECT count(*) FROM followups WHERE lead_id = ?", (lost,)).fetchone()[0] == 0
        assert con.execute("SELECT reminded_at FROM followups WHERE lead_id = ?", (blocked,)).fetchone()[0] is None
    finally:
        con.close()
