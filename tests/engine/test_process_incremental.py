"""`process` under a moving clock: a run over every lead evaluates only the leads whose dates put a
clock threshold of the rules between the last run's clock and its own, and ends as a full run does."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select

from leadctl.engine.process import STATE_KEY, process_leads
from leadctl.engine.sweepscan import clock_ages, windows
from leadctl.rules.loader import lead_conditions, load_rules
from leadctl.store.models import Activity, Lead, Meta, StageChange

import conftest as factories
from conftest import write_rules

NOW = datetime(2026, 11, 20, 10, 0)
LEADS = Lead.__table__
ACTS = Activity.__table__
META = Meta.__table__
HISTORY = StageChange.__table__

SCORING = """
fit:
  rules:
    - {name: Old lead, when: {created_at: {older_than: 20d}}, points: 5}
    - {name: Long quiet, when: {days_since_activity: {gte: 10}}, points: -3}
    - {name: Young lead, when: {days_since_created: {between: [2, 6]}}, points: 4}
engagement:
  decay: DECAY
  rules:
    - {name: Demo, activity: demo_request, points: 30}
    - {name: Recent views, activity: page_view, when: {at: {within: 2d}}, points: 5, each: true, max: 15}
    - {name: Recently active, when: {last_activity_at: {within: 1d}}, points: 5}
    - {name: Recent demo, when: {activity.demo_request.last: {within: 4d}}, points: 10}
total: {min: 0, max: 100}
grades:
  fit: {A: 8, B: 3, C: 0}
  engagement: {"1": 20, "2": 5, "3": 0}
"""

QUALIFICATION = """
temperature:
  - {name: hot, when: {score: {gte: 30}}}
  - {name: warm, when: {score: {gte: 10}}}
  - {name: cold}
stages:
  - to: sql
    when: {score: {gte: 30}}
  - to: mql
    when: {any: [{score: {gte: 10}}, {not: {created_at: {within: 15d}}}]}
"""

DECAYS = {"half_life": "{half_life: 3d}", "steps": "{steps: [{after: 1d, factor: 0.5}, {after: 5d, factor: 0}]}"}


@pytest.fixture(scope="module", params=sorted(DECAYS))
def clock_rules(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"rules-{request.param}")
    return load_rules(write_rules(folder, scoring=SCORING.replace("DECAY", DECAYS[request.param]),
                                  qualification=QUALIFICATION))


def _outcome(store) -> list[tuple]:
    with store.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(LEADS.c.id, LEADS.c.score, LEADS.c.fit_score, LEADS.c.engagement_score, LEADS.c.grade,
                   LEADS.c.temperature, LEADS.c.stage, LEADS.c.explanation).order_by(LEADS.c.id))]


def _full_outcome(store, rules, now) -> list[tuple]:
    """What a run evaluating every lead at `now` leaves (the record of the last run removed first)."""
    with store.begin() as conn:
        conn.execute(META.delete().where(META.c.key == STATE_KEY))
    process_leads(store, rules, now=now, steps=[])
    return _outcome(store)


def _run(store, rules, now):
    return process_leads(store, rules, now=now, steps=[])


def test_a_later_clock_evaluates_only_the_leads_it_can_change(store, clock_rules):
    # Long past every threshold: nothing the clock does changes them.
    factories.add_lead(store, at=NOW - timedelta(days=100), email="q@acme.com")
    factories.add_lead(store, at=NOW - timedelta(days=100), email="r@acme.com",
                       last_activity_at=NOW - timedelta(days=60))
    # Twenty days old twelve hours from now ("Old lead").
    young = factories.add_lead(store, at=NOW - timedelta(days=19, hours=12), email="y@acme.com")
    _run(store, clock_rules, NOW)
    assert _run(store, clock_rules, NOW + timedelta(hours=1)).to_dict()["unchanged_skipped"] >= 2
    crossing = _run(store, clock_rules, NOW + timedelta(hours=13))
    assert crossing.to_dict()["unchanged_skipped"] == 2 and crossing.counts["scores_changed"] == 1
    assert [o[1] for o in _outcome(store) if o[0] == young] == [5]
    assert _outcome(store) == _full_outcome(store, clock_rules, NOW + timedelta(hours=13))


def test_an_activity_record_ageing_out_of_a_rule_is_evaluated_again(store, clock_rules):
    lid = factories.add_lead(store, at=NOW - timedelta(days=100), email="v@acme.com")
    with store.begin() as conn:   # "Recent views" (within 2d) holds for this view for one more hour
        conn.execute(ACTS.insert().values(lead_id=lid, type="page_view", at=NOW - timedelta(hours=47)))
    _run(store, clock_rules, NOW)
    res = _run(store, clock_rules, NOW + timedelta(hours=2))
    assert res.to_dict()["unchanged_skipped"] == 0
    assert _outcome(store) == _full_outcome(store, clock_rules, NOW + timedelta(hours=2))


def test_a_clock_going_back_evaluates_everything(store, clock_rules):
    factories.add_lead(store, at=NOW - timedelta(days=3), email="a@acme.com")
    _run(store, clock_rules, NOW)
    assert "unchanged_skipped" not in _run(store, clock_rules, NOW - timedelta(minutes=1)).to_dict()


def test_a_run_over_some_leads_at_a_later_clock_holds_back_earlier_full_runs(store, clock_rules):
    a = factories.add_lead(store, at=NOW - timedelta(days=3), email="a@acme.com")
    factories.add_lead(store, at=NOW - timedelta(days=3), email="b@acme.com")
    _run(store, clock_rules, NOW)
    process_leads(store, clock_rules, now=NOW + timedelta(days=2), steps=[], lead_ids={a})
    # A full run before that clock would trust a lead evaluated after it: everything again.
    assert "unchanged_skipped" not in _run(store, clock_rules, NOW + timedelta(days=1)).to_dict()
    process_leads(store, clock_rules, now=NOW + timedelta(days=2), steps=[], lead_ids={a})
    res = _run(store, clock_rules, NOW + timedelta(days=3))
    assert "unchanged_skipped" in res.to_dict()
    assert _outcome(store) == _full_outcome(store, clock_rules, NOW + timedelta(days=3))


def test_rules_reading_an_attributes_date_evaluate_everything_when_the_clock_moves(tmp_path):
    rules = load_rules(write_rules(tmp_path / "r", scoring="""
        fit:
          rules:
            - {name: Renewal soon, when: {attributes.renewal: {within: 30d}}, points: 5}
        """))
    assert clock_ages(rules, lead_conditions(rules)) is None


def test_decay_windows_cover_every_change_of_the_rounded_factor(clock_rules):
    """Brute force: wherever the rounded factor differs between two clocks, the idle start is in a window."""
    decay = clock_rules.scoring.engagement.decay
    ages = clock_ages(clock_rules, lead_conditions(clock_rules))
    assert ages is not None
    prev, now = NOW, NOW + timedelta(minutes=37)
    spans = windows(ages.decay, prev, now)
    for minutes in range(0, 60 * 24 * 12, 7):
        since = prev - timedelta(minutes=minutes)
        if round(decay.factor(prev - since), 3) != round(decay.factor(now - since), 3):
            assert any(lo <= since <= hi for lo, hi in spans), since


_TYPES = st.sampled_from(["demo_request", "page_view", "email_open"])
_AGE = st.integers(-2 * 24 * 60, 40 * 24 * 60).map(lambda m: timedelta(minutes=m))   # before NOW (negative: after)
_LEAD = st.tuples(_AGE, st.one_of(st.none(), _AGE), st.lists(st.tuples(_TYPES, _AGE), max_size=3))
_STEP = st.one_of(st.integers(0, 90).map(lambda m: timedelta(minutes=m)),
                  st.integers(1, 72).map(lambda h: timedelta(hours=h)),
                  st.integers(1, 12).map(lambda d: timedelta(days=d)))
_EDIT = st.one_of(st.none(), st.tuples(st.sampled_from(["activity", "touch", "quiet"]), st.integers(0, 5), _TYPES))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(leads=st.lists(_LEAD, min_size=1, max_size=6), steps=st.lists(st.tuples(_STEP, _EDIT), min_size=1, max_size=4))
def test_a_skipping_run_under_a_moving_clock_equals_a_full_run(store, clock_rules, leads, steps):
    """Random leads, activities, clock steps and writes between runs: after every run that evaluates
    only what changed or what the clock can change, every lead is as a run evaluating every lead leaves it."""
    with store.begin() as conn:
        for table in (ACTS, HISTORY, LEADS):
            conn.execute(table.delete())
        conn.execute(META.delete().where(META.c.key == STATE_KEY))
    ids = []
    for i, (created, last, acts) in enumerate(leads):
        lid = factories.add_lead(store, at=NOW - created, email=f"p{i}@acme.com",
                                 last_activity_at=None if last is None else NOW - last)
        ids.append(lid)
        with store.begin() as conn:
            for typ, age in acts:
                conn.execute(ACTS.insert().values(lead_id=lid, type=typ, at=NOW - age, fields={"url": "/x"}))
    now = NOW
    _run(store, clock_rules, now)
    for step, edit in steps:
        now = now + step
        if edit is not None:
            what, i, typ = edit
            lid = ids[i % len(ids)]
            with store.begin() as conn:
                if what == "activity":
                    conn.execute(ACTS.insert().values(lead_id=lid, type=typ, at=now - timedelta(hours=i)))
                elif what == "touch":
                    conn.execute(LEADS.update().where(LEADS.c.id == lid).values(last_activity_at=now))
                else:
                    conn.execute(LEADS.update().where(LEADS.c.id == lid).values(last_activity_at=None))
        _run(store, clock_rules, now)
        assert _outcome(store) == _full_outcome(store, clock_rules, now)


FOLLOWUPS = Meta.metadata.tables["followups"]


def _everything(store) -> tuple:
    """Leads' outcome with their owners, and every follow-up task."""
    with store.connect() as conn:
        leads = [tuple(r) for r in conn.execute(
            select(LEADS.c.id, LEADS.c.score, LEADS.c.grade, LEADS.c.temperature, LEADS.c.stage, LEADS.c.owner,
                   LEADS.c.assigned_at, LEADS.c.explanation).order_by(LEADS.c.id))]
        tasks = [tuple(r) for r in conn.execute(
            select(FOLLOWUPS.c.lead_id, FOLLOWUPS.c.kind, FOLLOWUPS.c.cadence, FOLLOWUPS.c.step, FOLLOWUPS.c.status,
                   FOLLOWUPS.c.action, FOLLOWUPS.c.due_at, FOLLOWUPS.c.owner)
            .order_by(FOLLOWUPS.c.lead_id, FOLLOWUPS.c.kind, FOLLOWUPS.c.cadence, FOLLOWUPS.c.step))]
    return leads, tasks


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(leads=st.lists(st.tuples(_AGE, st.one_of(st.none(), _AGE), st.sampled_from(["new", "mql", "sql"]),
                                st.sampled_from([None, "CEO", "Intern"])), min_size=1, max_size=5),
       steps=st.lists(_STEP, min_size=1, max_size=3))
def test_with_routing_and_follow_ups_a_skipping_run_equals_a_full_run(store, rules, leads, steps):
    """The default rules (decay, inactivity after 14 quiet days, SLAs, cadences, routing): after each
    run under a moving clock, leads, owners and tasks are what a run evaluating every lead leaves."""
    with store.begin() as conn:
        for table in (FOLLOWUPS, ACTS, HISTORY, LEADS):
            conn.execute(table.delete())
        conn.execute(META.delete().where(META.c.key == STATE_KEY))
    for i, (created, last, stage, title) in enumerate(leads):
        factories.add_lead(store, at=NOW - created, email=f"d{i}@acme.com", stage=stage, title=title,
                           last_activity_at=None if last is None else NOW - last)
    now = NOW
    process_leads(store, rules, now=now)
    for step in steps:
        now += step
        process_leads(store, rules, now=now)
        skipping = _everything(store)
        with store.begin() as conn:
            conn.execute(META.delete().where(META.c.key == STATE_KEY))
        process_leads(store, rules, now=now)
        assert skipping == _everything(store)
