"""Contact limits and quiet hours: no lead is touched more often than followups.yaml allows."""
from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select

from leadctl.clock import to_local, zone
from leadctl.engine.bizhours import BusinessCalendar
from leadctl.engine.consent import channel_of
from leadctl.engine.limits import ContactPlan, lead_zone
from leadctl.rules.loader import load_rules
from leadctl.store.models import Followup, Lead

import conftest as factories

NOW = datetime(2026, 11, 20, 10, 0)   # a Friday, 10:00 UTC
HOURS = '{days: [mon, tue, wed, thu, fri], start: "08:00", end: "20:00"}'


def followups_yaml(steps: list[tuple[str, str]], limits: list[str], quiet: str | None = None) -> str:
    lines = [f"business_hours: {HOURS}", "cadences:", "  - name: Touch", "    when: {temperature: hot}",
             "    steps:"]
    lines += [f"      - {{after: {after}, action: {action}}}" for after, action in steps]
    lines += ["inactivity:", "  - name: Quiet", "    when: {stage: mql}", "    action: call"]
    if limits:
        lines += ["limits:"] + [f"  - {lim}" for lim in limits]
    if quiet:
        lines.append(f'quiet_hours: "{quiet}"')
    return "\n".join(lines) + "\n"


def run_step(store, rules, lid: int) -> None:
    t = Lead.__table__
    with store.begin() as conn:
        lead = dict(conn.execute(select(t).where(t.c.id == lid)).one()._mapping)
        lead["activity"] = {}
        factories.run_followup_step(conn, rules, [lead], NOW)


def touches_of(store, lid: int) -> list[tuple[datetime, str, str | None]]:
    f = Followup.__table__
    with store.connect() as conn:
        rows = conn.execute(select(f.c.due_at, f.c.action, f.c.note, f.c.status).where(f.c.lead_id == lid)).all()
    return sorted((r.due_at, channel_of(r.action), r.note) for r in rows
                  if r.status == "pending" and channel_of(r.action))


def respects(times: list[datetime], limit_max: int, per: timedelta) -> bool:
    times = sorted(times)
    return all(sum(1 for u in times if t <= u < t + per) <= limit_max for t in times)


def test_a_step_that_breaks_a_limit_moves_and_says_why(store, tmp_path):
    rules = load_rules(str(factories.write_rules(tmp_path / "r", followups=followups_yaml(
        [("1h", "email"), ("1h", "email"), ("1h", "call")], ["{max: 1, per: 1d, channel: email}"]))))
    lid = factories.add_lead(store, at=NOW, temperature="hot")
    run_step(store, rules, lid)
    got = touches_of(store, lid)
    emails = [t for t, c, _ in got if c == "email"]
    assert emails[1] - emails[0] >= timedelta(days=1)
    moved = [n for _, c, n in got if n]
    assert moved and "limit 1 email per 1d" in moved[0] and moved[0].startswith("moved from 2026-11-20 12:00 UTC")
    # The call is not an e-mail: only the chain of steps moves it, not the e-mail limit.
    call = next(t for t, c, _ in got if c == "phone")
    assert call == emails[1] + timedelta(hours=1)


def test_quiet_hours_in_the_leads_time_zone(store, tmp_path):
    """A lead in Japan (one time zone): 12:00 UTC on Friday is 21:00 in Tokyo, inside 20:00-08:00 there;
    the quiet hours end at 08:00 Tokyo (23:00 UTC), outside business hours, so the call moves to Monday."""
    rules = load_rules(str(factories.write_rules(tmp_path / "r", followups=followups_yaml(
        [("2h", "call")], [], quiet="20:00-08:00"))))
    lid = factories.add_lead(store, at=NOW, temperature="hot", country="JP")
    run_step(store, rules, lid)
    (due, _, note), = touches_of(store, lid)
    assert due == datetime(2026, 11, 23, 8, 0)
    assert to_local(due, zone("Asia/Tokyo")).time() == time(17, 0)
    assert note == "moved from 2026-11-20 12:00 UTC: quiet hours 20:00-08:00 (Asia/Tokyo)"
    assert lead_zone({"country": "US"}) is None and lead_zone({"country": "jp"}) == "Asia/Tokyo"


def test_limits_are_checked_by_rules_check(tmp_path, run_cli):
    folder = factories.write_rules(tmp_path / "r", followups=followups_yaml(
        [("1h", "email")], ["{max: 0, per: 7d}", "{max: 1, per: 1d, channel: fax}"], quiet="20:00"))
    r = run_cli("--rules", str(folder), "rules", "check")
    assert r.code == 2
    assert "followups.yaml:12: rule #1 of limits: max must be 1 or more, got 0" in r.err + r.out
    assert "followups.yaml:13: rule #2 of limits: channel" in r.err + r.out
    assert "followups.yaml:14: quiet_hours must be a range like \"20:00-08:00\"" in r.err + r.out


ACTIONS = st.sampled_from(["email", "call", "sms", "meeting"])
AFTERS = st.sampled_from(["0m", "15m", "1h", "4h", "1d", "2d"])
LIMITS = st.lists(st.tuples(st.integers(1, 3), st.sampled_from(["1d", "2d", "7d", "12h"]),
                            st.sampled_from([None, "email", "phone", "sms"])), min_size=1, max_size=3)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(AFTERS, ACTIONS), min_size=1, max_size=8), limits=LIMITS,
       done=st.lists(st.tuples(st.integers(-72, 0), ACTIONS), max_size=3), quiet=st.booleans())
def test_no_lead_is_touched_more_often_than_the_limits_allow(store, tmp_path, steps, limits, done, quiet):
    yaml_limits = [f"{{max: {m}, per: {p}" + (f", channel: {c}}}" if c else "}") for m, p, c in limits]
    rules = load_rules(str(factories.write_rules(tmp_path / "r", followups=followups_yaml(
        steps, yaml_limits, quiet="21:00-07:00" if quiet else None))))
    lid = factories.add_lead(store, at=NOW, temperature="hot", stage="mql")
    f = Followup.__table__
    with store.begin() as conn:  # touches already done, spaced as the limits allowed them
        plan, cal, past = ContactPlan(rules.followups), BusinessCalendar(rules.followups.business_hours), []
        for hours, action in sorted(done):
            at, _ = plan.place(past, NOW + timedelta(hours=hours), channel_of(action), cal, {})
            if at <= NOW:
                conn.execute(f.insert().values(lead_id=lid, kind="cadence", cadence="Earlier", action=action,
                                               due_at=at, status="done", created_at=at, completed_at=at))
    run_step(store, rules, lid)
    with store.connect() as conn:
        rows = conn.execute(select(f).where(f.c.lead_id == lid)).all()
    touches = [((r.completed_at if r.status == "done" else r.due_at), channel_of(r.action)) for r in rows
               if r.status in ("pending", "done") and channel_of(r.action)]
    for m, p, c in limits:
        per = timedelta(days=int(p[:-1])) if p.endswith("d") else timedelta(hours=int(p[:-1]))
        assert respects([t for t, ch in touches if c is None or ch == c], m, per), (m, p, c, sorted(touches))
    for r in rows:
        if r.status == "pending":
            assert cal.is_open(r.due_at)
            if quiet:
                local = r.due_at.time()
                assert time(7, 0) <= local < time(21, 0)
    n_steps = sum(1 for r in rows if r.cadence == "Touch")
    assert n_steps == len(steps)   # every step is planned: moved, never dropped


@pytest.mark.parametrize("channel", ["email", None])
def test_place_without_limits_keeps_the_time(channel):
    plan = ContactPlan(object())
    assert plan.place([], NOW, channel, BusinessCalendar(None), {}) == (NOW, None)


def test_the_sweeps_inactivity_tasks_respect_the_limits(store, tmp_path):
    """`followups remind` creates inactivity tasks outside `process`: they are placed the same way."""
    from leadctl.engine.followups import create_inactivity_tasks

    rules = load_rules(str(factories.write_rules(tmp_path / "r", followups=followups_yaml(
        [("1h", "email")], ["{max: 1, per: 2d}"]))))
    lid = factories.add_lead(store, at=NOW, stage="mql")
    f = Followup.__table__
    with store.begin() as conn:
        conn.execute(f.insert().values(lead_id=lid, kind="cadence", cadence="Earlier", action="email",
                                       due_at=NOW - timedelta(hours=20), status="done", created_at=NOW,
                                       completed_at=NOW - timedelta(hours=20)))
        assert create_inactivity_tasks(conn, rules, NOW) == 1
    (due, channel, note), = touches_of(store, lid)
    assert (due, channel) == (datetime(2026, 11, 23, 8, 0), "phone")   # Saturday 14:00 → Monday 08:00
    assert note == "moved from 2026-11-20 10:00 UTC: limit 1 per 2d"
