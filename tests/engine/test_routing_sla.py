"""SLA checks: exact deadlines, reassignment to another owner, notify rows, no double records."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from leadctl.engine.owners import sync_owners
from leadctl.engine.sla import check_sla
from leadctl.rules.loader import load_rules
from leadctl.store.models import Assignment, Lead, SlaBreach

import conftest as factories

LEADS = Lead.__table__
ASSIGNMENTS = Assignment.__table__
BREACHES = SlaBreach.__table__
T0 = datetime(2026, 11, 20, 9, 0)

ROUTING = """
    owners:
      - {name: ann, team: inbound}
      - {name: bob, team: inbound}
      - {name: cat, team: inbound}
    rules:
      - {name: Everyone, assign: {team: inbound, strategy: round_robin}}
    sla:
      - name: Hot within the hour
        when: {temperature: hot}
        within: 1h
        then: reassign
      - name: New within a day
        when: {stage: new}
        within: 1d
        then: notify
"""


@pytest.fixture
def rules(tmp_path):
    return load_rules(factories.write_rules(tmp_path / "rules", routing=ROUTING))


def add_lead(store, **values) -> int:
    """A lead assigned to ann of the inbound team at T0."""
    return factories.add_lead(store, at=T0, **{"owner": "ann", "team": "inbound", "assigned_at": T0, **values})


def sweep(store, rules, now, **kw):
    with store.begin() as conn:
        sync_owners(conn, rules)
        return check_sla(conn, rules, now, **kw)


def lead(store, lead_id):
    with store.connect() as conn:
        return conn.execute(select(LEADS).where(LEADS.c.id == lead_id)).one()


def test_hot_lead_breaches_just_after_the_deadline_and_goes_to_another_owner(store, rules):
    hot = add_lead(store, temperature="hot", stage="mql")
    assert sweep(store, rules, T0 + timedelta(hours=1)) == []          # exactly at the deadline: in time
    got = sweep(store, rules, T0 + timedelta(hours=1, seconds=1))
    assert [(b["lead_id"], b["rule"], b["action"], b["owner"], b["new_owner"]) for b in got] == [
        (hot, "Hot within the hour", "reassign", "ann", "bob")]
    assert got[0]["due_at"] == T0 + timedelta(hours=1)
    row = lead(store, hot)
    assert (row.owner, row.team, row.assigned_at, row.assigned_manually) == (
        "bob", "inbound", T0 + timedelta(hours=1, seconds=1), False)
    with store.connect() as conn:
        a = conn.execute(select(ASSIGNMENTS)).one()
        b = conn.execute(select(BREACHES)).one()
    assert a.previous_owner == "ann" and a.owner == "bob"
    assert a.reason == ("SLA 'Hot within the hour' breached (due 2026-11-20 10:00, ann) → "
                        "rule 'Everyone' → team inbound → round_robin → bob (1 open)")
    assert (b.owner, b.assigned_at, b.action, b.notified_at) == ("ann", T0, "reassign", None)
    # The new assignment starts a new clock: bob has an hour from 10:00:01.
    assert sweep(store, rules, T0 + timedelta(hours=2, seconds=1)) == []
    again = sweep(store, rules, T0 + timedelta(hours=2, seconds=2))
    # max_reassignments defaults to 1: the second miss only notifies bob, the lead stays with him.
    assert [(b["owner"], b["action"], b["new_owner"]) for b in again] == [("bob", "notify", None)]
    assert again[0]["note"] == "already reassigned 1 time (max_reassignments: 1); notify only"
    assert lead(store, hot).owner == "bob"
    assert sweep(store, rules, T0 + timedelta(hours=9)) == []


def test_contact_at_exact_deadline_is_in_time_and_a_second_later_is_not(store, rules):
    on_time = add_lead(store, temperature="hot", stage="mql", last_contacted_at=T0 + timedelta(hours=1))
    late = add_lead(store, temperature="hot", stage="mql",
                    last_contacted_at=T0 + timedelta(hours=1, seconds=1))
    before = add_lead(store, temperature="hot", stage="mql", last_contacted_at=T0 - timedelta(minutes=1))
    got = sweep(store, rules, T0 + timedelta(hours=3))
    by_lead = {b["lead_id"]: b for b in got}
    assert on_time not in by_lead
    assert by_lead[late]["new_owner"] is None and "contacted late" in by_lead[late]["note"]   # breached, kept
    assert by_lead[before]["new_owner"] is not None          # a contact before the assignment does not count
    assert lead(store, late).owner == "ann"


def test_notify_breach_is_stored_once_for_the_sweep(store, rules):
    new = add_lead(store)
    monday = T0 + timedelta(days=3)     # a business day from Friday 09:00 is Monday 09:00, not Saturday
    assert sweep(store, rules, T0 + timedelta(days=1, minutes=5)) == []
    assert sweep(store, rules, monday) == []
    first = sweep(store, rules, monday + timedelta(minutes=5))
    assert [(b["lead_id"], b["action"], b["new_owner"], b["due_at"]) for b in first] == [
        (new, "notify", None, monday)]
    assert sweep(store, rules, monday + timedelta(minutes=10)) == []
    assert sweep(store, rules, monday + timedelta(minutes=5)) == []    # same clock again
    assert sweep(store, rules, T0) == []                                # clock moved backwards
    assert sweep(store, rules, T0 + timedelta(days=5)) == []
    with store.connect() as conn:
        rows = conn.execute(select(BREACHES)).all()
    assert [(r.lead_id, r.action, r.notified_at, r.owner) for r in rows] == [(new, "notify", None, "ann")]
    assert lead(store, new).owner == "ann"


def test_dry_run_writes_nothing(store, rules):
    hot = add_lead(store, temperature="hot", stage="mql")
    got = sweep(store, rules, T0 + timedelta(hours=5), dry_run=True)
    assert [b["new_owner"] for b in got] == ["bob"]
    assert lead(store, hot).owner == "ann"
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(BREACHES)).scalar() == 0
    assert len(sweep(store, rules, T0 + timedelta(hours=5))) == 1


def test_terminal_unowned_and_unmatched_leads_are_not_breached(store, rules):
    add_lead(store, temperature="hot", stage="customer")
    add_lead(store, temperature="hot", stage="mql", owner=None, team=None, assigned_at=None)
    add_lead(store, temperature="warm", stage="mql")
    assert sweep(store, rules, T0 + timedelta(days=3)) == []


def test_reassign_with_nobody_else_keeps_owner_and_records_breach(store, tmp_path):
    d = factories.write_rules(tmp_path / "solo", routing="""
        owners:
          - {name: ann, team: t}
          - {name: bob, team: t, active: false}
        rules:
          - {name: All, assign: {team: t, strategy: least_loaded}}
        sla:
          - {name: Fast, within: 30m, then: [reassign, notify]}
    """)
    rules = load_rules(d)
    one = add_lead(store, team="t")
    got = sweep(store, rules, T0 + timedelta(minutes=31))
    assert [(b["action"], b["new_owner"]) for b in got] == [("reassign", None), ("notify", None)]
    assert got[0]["note"].startswith("nobody else can take it: rule 'All': nobody available in team t (bob inactive)")
    assert lead(store, one).owner == "ann"
    assert sweep(store, rules, T0 + timedelta(minutes=40)) == []


def test_owner_named_by_email_counts_and_is_replaced(store, tmp_path):
    d = factories.write_rules(tmp_path / "mail", routing="""
        owners:
          - {name: ann, email: ann@example.com, team: t, capacity: 1}
          - {name: bob, team: t}
        rules:
          - {name: All, assign: {team: t, strategy: least_loaded}}
        sla:
          - {name: Fast, within: 30m, then: reassign}
    """)
    rules = load_rules(d)
    one = add_lead(store, owner="ANN@example.com", team="t")
    got = sweep(store, rules, T0 + timedelta(minutes=31))
    assert [(b["owner"], b["new_owner"]) for b in got] == [("ANN@example.com", "bob")]
    from leadctl.engine.owners import list_owners

    with store.connect() as conn:
        status = {o.name: o for o in list_owners(conn, rules, T0)}
    assert status["ann"].open == 0 and status["bob"].open == 1
    assert lead(store, one).owner == "bob"
