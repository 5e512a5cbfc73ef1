"""Segments refreshed incrementally by `process`: membership equals a full refresh's, whatever changed."""
from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from leadctl.engine.process import process_leads
from leadctl.engine.segments import STATE_KEY, refresh_segments
from leadctl.rules.loader import load_rules
from leadctl.store.tables import ACTIVITIES, LEAD_SEGMENTS, LEADS, META

import conftest as factories

NOW = datetime(2026, 11, 20, 10, 0)
SEGMENTS = """
segments:
  - name: enterprise
    when: {employees: {gte: 1000}}
  - name: Quiet
    when: {days_since_created: {gte: 30}, stage: [new, mql]}
  - name: Viewers
    when: {activity.page_view.count: {gte: 2}}
  - name: Recent
    when: {any: [{last_activity_at: {within: 3d}}, {activity.demo_request.last: {within: 1d}}]}
"""


def _rules(tmp_path):
    return load_rules(str(factories.write_rules(tmp_path / "rules", segments=SEGMENTS)))


def _members(store) -> list[tuple]:
    with store.connect() as conn:
        return [tuple(r) for r in conn.execute(select(LEAD_SEGMENTS).order_by(LEAD_SEGMENTS.c.segment,
                                                                               LEAD_SEGMENTS.c.lead_id))]


def _full(store, rules, now) -> list[tuple]:
    with store.begin() as conn:
        refresh_segments(conn, rules, now)
    return _members(store)


def _refreshed_leads(store, monkeypatch, rules, now, **kw) -> int | None:
    """How many leads the refresh at the end of a process run looked at (None: all)."""
    from leadctl.engine import segments

    seen: list = []
    original = segments._changed

    def spy(*args):
        out = original(*args)
        seen.append(out)
        return out

    monkeypatch.setattr(segments, "_changed", spy)
    process_leads(store, rules, now=now, steps=[], **kw)
    monkeypatch.setattr(segments, "_changed", original)
    return None if seen[-1] is None else len(seen[-1])


def test_a_rerun_looks_at_no_lead_and_a_written_lead_alone(store, tmp_path, monkeypatch):
    rules = _rules(tmp_path)
    big = factories.add_lead(store, at=NOW - timedelta(days=40), employees=5000)
    factories.add_lead(store, at=NOW - timedelta(days=40), employees=10)
    assert _refreshed_leads(store, monkeypatch, rules, NOW) is None   # the first refresh: every lead
    assert _refreshed_leads(store, monkeypatch, rules, NOW) == 0
    with store.begin() as conn:
        conn.execute(LEADS.update().where(LEADS.c.id == big).values(employees=20))
    assert _refreshed_leads(store, monkeypatch, rules, NOW) == 1
    assert ("enterprise", big) not in _members(store)
    assert _members(store) == _full(store, rules, NOW)


def test_an_erased_lead_leaves_every_segment(store, tmp_path):
    rules = _rules(tmp_path)
    lid = factories.add_lead(store, at=NOW - timedelta(days=40), employees=5000)
    process_leads(store, rules, now=NOW, steps=[])
    assert {s for s, i in _members(store) if i == lid} == {"enterprise", "Quiet"}
    with store.begin() as conn:   # what `leads forget` leaves of a lead
        conn.execute(LEADS.update().where(LEADS.c.id == lid).values(erased_at=NOW, employees=None))
    process_leads(store, rules, now=NOW, steps=[])
    assert _members(store) == []


def test_a_run_over_one_lead_still_moves_a_lead_the_clock_changed(store, tmp_path):
    rules = _rules(tmp_path)
    ageing = factories.add_lead(store, at=NOW - timedelta(days=29, hours=23))   # Quiet in an hour
    other = factories.add_lead(store, at=NOW)
    process_leads(store, rules, now=NOW, steps=[])
    assert _members(store) == []
    later = NOW + timedelta(hours=2)
    process_leads(store, rules, now=later, steps=[], lead_ids={other})
    assert _members(store) == [("Quiet", ageing)] == _full(store, rules, later)


def test_a_run_over_one_lead_still_moves_a_lead_whose_activities_were_deleted(store, tmp_path):
    rules = _rules(tmp_path)
    viewer = factories.add_lead(store, at=NOW)
    other = factories.add_lead(store, at=NOW)
    with store.begin() as conn:
        conn.execute(ACTIVITIES.insert(), [{"lead_id": viewer, "type": "page_view", "at": NOW}] * 2)
    process_leads(store, rules, now=NOW, steps=[])
    assert _members(store) == [("Viewers", viewer)]
    with store.begin() as conn:
        conn.execute(ACTIVITIES.delete().where(ACTIVITIES.c.lead_id == viewer))
    process_leads(store, rules, now=NOW, steps=[], lead_ids={other})
    assert _members(store) == [] == _full(store, rules, NOW)


def test_other_definitions_or_an_earlier_clock_refresh_everything(store, tmp_path, monkeypatch):
    rules = _rules(tmp_path)
    factories.add_lead(store, at=NOW - timedelta(days=40), employees=5000)
    process_leads(store, rules, now=NOW, steps=[])
    assert _refreshed_leads(store, monkeypatch, rules, NOW - timedelta(hours=1)) is None
    other = load_rules(str(factories.write_rules(tmp_path / "other", segments=SEGMENTS.replace("1000", "100"))))
    assert _refreshed_leads(store, monkeypatch, other, NOW) is None


_EDIT = st.tuples(st.sampled_from(["employees", "erase", "view", "demo", "touch", "delete_acts", "some"]),
                  st.integers(0, 7), st.sampled_from([None, 10, 1000, 5000]))
_STEP = st.one_of(st.just(timedelta(0)), st.integers(1, 72).map(lambda h: timedelta(hours=h)),
                  st.integers(1, 20).map(lambda d: timedelta(days=d)))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(leads=st.lists(st.tuples(st.integers(0, 60), st.sampled_from([None, 10, 1000, 5000]),
                                st.one_of(st.none(), st.integers(0, 6 * 24))), min_size=1, max_size=7),
       steps=st.lists(st.tuples(_STEP, st.lists(_EDIT, max_size=3)), min_size=1, max_size=4))
def test_incremental_membership_equals_a_full_refresh(store, tmp_path_factory, leads, steps):
    """Random leads, writes (erasures, activities added and deleted, runs over some leads) and clock
    steps: after each process run, the stored membership is what a full refresh computes."""
    rules = _rules(tmp_path_factory.mktemp("seg"))
    with store.begin() as conn:
        for table in (LEAD_SEGMENTS, ACTIVITIES, LEADS):
            conn.execute(table.delete())
        conn.execute(META.delete().where(META.c.key == STATE_KEY))
    ids = [factories.add_lead(store, at=NOW - timedelta(days=days), employees=emp,
                              last_activity_at=None if quiet is None else NOW - timedelta(hours=quiet))
           for days, emp, quiet in leads]
    now = NOW
    process_leads(store, rules, now=now, steps=[])
    for step, edits in steps:
        now += step
        some = None
        for what, i, emp in edits:
            lid = ids[i % len(ids)]
            with store.begin() as conn:
                one = LEADS.update().where(LEADS.c.id == lid)
                if what == "employees":
                    conn.execute(one.values(employees=emp))
                elif what == "erase":
                    conn.execute(one.values(erased_at=now, employees=None))
                elif what == "touch":
                    conn.execute(one.values(last_activity_at=now - timedelta(hours=i)))
                elif what == "delete_acts":
                    conn.execute(ACTIVITIES.delete().where(ACTIVITIES.c.lead_id == lid))
                elif what == "some":
                    some = {lid}
                else:
                    conn.execute(ACTIVITIES.insert().values(lead_id=lid, type="page_view" if what == "view"
                                                            else "demo_request", at=now - timedelta(hours=i)))
        process_leads(store, rules, now=now, steps=[], lead_ids=some)
        assert _members(store) == _full(store, rules, now)
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(LEAD_SEGMENTS)).scalar() == len(_members(store))
