"""Routing strategies, capacity, away periods, inactive owners, fallback, manual assignment, reasons."""
from __future__ import annotations

import json
import textwrap
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from leadctl.engine import process
from leadctl.engine.owners import list_owners, sync_owners
from leadctl.engine.routing import RoutingStep, assign_lead, lead_assignments
from leadctl.errors import NotFoundError
from leadctl.rules.loader import load_rules
from leadctl.store.models import Assignment, Lead, Owner

import conftest as factories

LEADS = Lead.__table__
ASSIGNMENTS = Assignment.__table__
OWNERS = Owner.__table__
NOW = datetime(2026, 11, 20, 10, 0)


def make_rules(tmp_path, routing: str, name: str = "rules"):
    d = tmp_path / name
    d.mkdir(exist_ok=True)
    (d / "routing.yaml").write_text(textwrap.dedent(routing))
    return load_rules(d)


def add_leads(store, n: int, **values) -> list[int]:
    return factories.add_leads(store, n, at=NOW, **values)


@pytest.fixture
def run_step(monkeypatch):
    """`process` with routing as its only step (chunks of `batch` leads, each its own
    transaction), on every lead or on `ids`; its result carries the counts."""
    def run(store, rules, now=NOW, *, batch: int = process.CHUNK, ids=None):
        monkeypatch.setattr(process, "CHUNK", batch)
        return process.process_leads(store, rules, now=now, lead_ids=None if ids is None else set(ids),
                                     steps=[RoutingStep()])

    return run


def owners_of(store, ids=None) -> Counter:
    stmt = select(LEADS.c.owner)
    if ids is not None:
        stmt = stmt.where(LEADS.c.id.in_(ids))
    with store.connect() as conn:
        return Counter(r[0] for r in conn.execute(stmt))


THREE = """
    owners:
      - {name: ann, team: inbound}
      - {name: bob, team: inbound}
      - {name: cat, team: inbound}
      - {name: queue}
    rules:
      - name: Everyone
        assign: {team: inbound, strategy: %s}
    fallback: {owner: queue}
"""


@pytest.mark.parametrize("batches", [[9000], [1, 2, 3, 4, 5, 6, 7, 8, 8964], [1000] * 9, [333, 1, 4666, 4000]])
def test_round_robin_even_across_imports(store, tmp_path, batches, run_step):
    rules = make_rules(tmp_path, THREE % "round_robin")
    for size in batches:
        ids = add_leads(store, size)
        run_step(store, rules, ids=ids, batch=700)
    counts = owners_of(store)
    assert sum(counts.values()) == 9000
    assert max(counts.values()) - min(counts.values()) <= 1
    assert set(counts) == {"ann", "bob", "cat"}


def test_round_robin_continuity_in_order(store, tmp_path, run_step):
    rules = make_rules(tmp_path, THREE % "round_robin")
    got = []
    for size in (1, 1, 2, 1, 3):
        ids = add_leads(store, size)
        run_step(store, rules, ids=ids)
        with store.connect() as conn:
            got += [r[0] for r in conn.execute(select(LEADS.c.owner).where(LEADS.c.id.in_(ids)).order_by(LEADS.c.id))]
    assert got == ["ann", "bob", "cat", "ann", "bob", "cat", "ann", "bob"]


def test_weighted_within_a_few_percent(store, tmp_path, run_step):
    routing = """
        owners:
          - {name: ann, team: t, weight: 1}
          - {name: bob, team: t, weight: 2}
          - {name: cat, team: t, weight: 3.5}
        rules:
          - {name: All, assign: {team: t, strategy: weighted}}
    """
    rules = make_rules(tmp_path, routing)
    for size in (1, 7, 992, 3000, 6000):
        run_step(store, rules, ids=add_leads(store, size), batch=997)
    counts = owners_of(store)
    total = sum(counts.values())
    assert total == 10_000
    for name, w in (("ann", 1), ("bob", 2), ("cat", 3.5)):
        expected = total * w / 6.5
        # smooth weighted round robin: within one lead of the exact share (far inside "a few percent")
        assert abs(counts[name] - expected) <= 1.5, (name, counts[name], expected)


def test_weighted_skips_full_owner_and_keeps_others_proportional(store, tmp_path, run_step):
    routing = """
        owners:
          - {name: ann, team: t, weight: 1}
          - {name: bob, team: t, weight: 3}
          - {name: cat, team: t, weight: 1, capacity: 10}
          - {name: queue}
        rules:
          - {name: All, assign: {team: t, strategy: weighted}}
        fallback: {owner: queue}
    """
    rules = make_rules(tmp_path, routing)
    run_step(store, rules, ids=add_leads(store, 1000))
    c = owners_of(store)
    assert c["cat"] == 10
    assert abs(c["bob"] - 3 * c["ann"]) <= 3
    assert c["queue"] == 0


def test_least_loaded_fills_lightest_and_breaks_ties_by_idle_time(store, tmp_path, run_step):
    rules = make_rules(tmp_path, THREE % "least_loaded")
    add_leads(store, 4, owner="ann", team="inbound")
    add_leads(store, 2, owner="bob", team="inbound")
    add_leads(store, 9, owner="cat", team="inbound", stage="customer")   # won: not open, no load
    with store.begin() as conn:
        sync_owners(conn, rules)
        conn.execute(OWNERS.update().where(OWNERS.c.name == "ann").values(last_assigned_at=NOW - timedelta(days=1)))
        conn.execute(OWNERS.update().where(OWNERS.c.name == "bob").values(last_assigned_at=NOW - timedelta(days=3)))
        conn.execute(OWNERS.update().where(OWNERS.c.name == "cat").values(last_assigned_at=NOW - timedelta(days=2)))
    ids = add_leads(store, 7)
    run_step(store, rules, ids=ids)
    with store.connect() as conn:
        order = [r[0] for r in conn.execute(select(LEADS.c.owner).where(LEADS.c.id.in_(ids)).order_by(LEADS.c.id))]
    # cat 0, bob 2, ann 4 open: cat ×2 → 2/2/4 tie bob (idle 3d) over cat (just assigned) → bob, cat,
    # then 4/3/3... → least loaded each time, ties to whoever waited longest.
    assert order[:2] == ["cat", "cat"]
    assert order[2] == "bob"
    assert order[3] == "cat"
    final = owners_of(store)
    assert final["ann"] == 4 + order.count("ann")
    loads = {"ann": 4 + order.count("ann"), "bob": 2 + order.count("bob"), "cat": order.count("cat")}
    assert max(loads.values()) - min(loads.values()) <= 1
    with store.connect() as conn:
        reasons = [r[0] for r in conn.execute(select(ASSIGNMENTS.c.reason).order_by(ASSIGNMENTS.c.id))]
    assert reasons[0] == "rule 'Everyone' → team inbound → least_loaded → cat (1 open)"


CAPPED = """
    owners:
      - {name: ann, team: emea, capacity: 2}
      - {name: bob, team: emea, capacity: 3}
      - {name: cat, team: us, capacity: 1}
      - {name: queue}
    rules:
      - name: Enterprise EMEA
        when: {country: [DE, FR]}
        assign: {team: emea, strategy: round_robin}
      - name: Any big company
        when: {employees: {gte: 1000}}
        assign: {team: us, strategy: least_loaded}
    fallback: {owner: queue}
"""


def test_capacity_caps_next_rule_then_fallback_with_reasons(store, tmp_path, run_step):
    rules = make_rules(tmp_path, CAPPED)
    add_leads(store, 1, owner="ann", team="emea")                         # ann already has one open lead
    add_leads(store, 5, owner="ann", team="emea", stage="lost")          # terminal: not counted
    ids = add_leads(store, 6, country="DE", employees=5000)
    ctx = run_step(store, rules, ids=ids)
    with store.connect() as conn:
        rows = conn.execute(select(LEADS.c.id, LEADS.c.owner).where(LEADS.c.id.in_(ids)).order_by(LEADS.c.id)).all()
        reasons = {r.lead_id: r for r in conn.execute(select(ASSIGNMENTS))}
    owners = [r.owner for r in rows]
    assert Counter(owners) == Counter({"bob": 3, "ann": 1, "cat": 1, "queue": 1})
    assert ctx.counts["assigned"] == 6
    last = reasons[rows[-1].id]
    assert last.reason == ("rule 'Enterprise EMEA': no capacity in team emea (ann full 2/2, bob full 3/3); "
                           "rule 'Any big company': no capacity in team us (cat full 1/1) → fallback queue (1 open)")
    assert last.rule == "fallback" and last.strategy == "owner" and last.owner == "queue"
    fifth = reasons[rows[-2].id]
    assert fifth.reason.endswith("→ team us → least_loaded → cat (1/1 open)")
    assert fifth.rule == "Any big company"


def test_unassigned_when_even_fallback_cannot_and_recorded_once(store, tmp_path, run_step):
    routing = """
        owners:
          - {name: ann, team: t, capacity: 1}
          - {name: bob, team: t, active: false}
          - {name: desk, capacity: 0}
        rules:
          - {name: All, when: {country: DE}, assign: {team: t}}
        fallback: {owner: desk}
    """
    rules = make_rules(tmp_path, routing)
    ids = add_leads(store, 2, country="DE") + add_leads(store, 1, country="US")
    ctx = run_step(store, rules)
    assert ctx.counts["assigned"] == 1 and ctx.counts["unassigned"] == 2
    with store.connect() as conn:
        rows = conn.execute(select(ASSIGNMENTS.c.lead_id, ASSIGNMENTS.c.owner, ASSIGNMENTS.c.reason)
                            .order_by(ASSIGNMENTS.c.id)).all()
    assert [r.owner for r in rows] == ["ann", None, None]
    assert rows[1].reason == ("rule 'All': nobody available in team t (ann full 1/1, bob inactive) "
                              "→ fallback: desk full 0/0 → unassigned")
    assert rows[2].reason == "no rule matched → fallback: desk full 0/0 → unassigned"
    run_step(store, rules)           # nothing changed: nothing recorded again
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ASSIGNMENTS)).scalar() == 3
    assert owners_of(store, ids)[None] == 2


AWAY = """
    owners:
      - name: dana
        team: emea
        timezone: Europe/Berlin
        away: [{from: 2026-12-20, to: 2027-01-03}]
      - {name: lee, team: emea, timezone: Europe/London}
    rules:
      - {name: EMEA, assign: {team: emea, strategy: round_robin}}
"""


@pytest.mark.parametrize("now, dana_away", [
    (datetime(2026, 12, 19, 22, 59), False),   # 23:59 on the 19th in Berlin
    (datetime(2026, 12, 19, 23, 0), True),     # midnight of the 20th in Berlin
    (datetime(2027, 1, 3, 22, 59), True),      # the last day, inclusive
    (datetime(2027, 1, 3, 23, 0), False),      # 4 January in Berlin
])
def test_away_periods_are_inclusive_dates_in_owner_time_zone(store, tmp_path, now, dana_away, run_step):
    rules = make_rules(tmp_path, AWAY)
    ids = add_leads(store, 4)
    run_step(store, rules, now=now)
    got = owners_of(store, ids)
    assert got == (Counter({"lee": 4}) if dana_away else Counter({"dana": 2, "lee": 2}))
    with store.connect() as conn:
        status = {o.name: o for o in list_owners(conn, rules, now)}
    assert status["dana"].available is (not dana_away)
    assert status["dana"].availability == ("away until 2027-01-03" if dana_away else "available")


def test_inactive_and_removed_owners_leads_are_rerouted_but_manual_ones_stay(store, tmp_path, run_step):
    first = make_rules(tmp_path, THREE % "round_robin", "v1")
    auto_cat = add_leads(store, 3, owner="cat", team="inbound")
    manual_cat = add_leads(store, 1, owner="cat", team="inbound", assigned_manually=True)
    won_cat = add_leads(store, 1, owner="cat", team="inbound", stage="customer")
    auto_bob = add_leads(store, 2, owner="bob", team="inbound")
    run_step(store, first)
    assert owners_of(store)["cat"] == 5                                    # all active: nothing moves
    second = make_rules(tmp_path, """
        owners:
          - {name: ann, team: inbound}
          - {name: bob, team: inbound, active: false}
          - {name: queue}
        rules:
          - {name: Everyone, assign: {team: inbound, strategy: round_robin}}
        fallback: {owner: queue}
    """, "v2")                                                             # cat removed, bob inactive
    ctx = run_step(store, second)
    assert ctx.counts["rerouted"] == 5
    assert owners_of(store, auto_cat + auto_bob) == Counter({"ann": 5})
    assert owners_of(store, manual_cat + won_cat) == Counter({"cat": 2})
    with store.connect() as conn:
        cat = conn.execute(select(OWNERS).where(OWNERS.c.name == "cat")).one()
        reason = conn.execute(select(ASSIGNMENTS.c.reason, ASSIGNMENTS.c.previous_owner)
                              .where(ASSIGNMENTS.c.lead_id == auto_cat[0])).one()
        listed = {o.name: o for o in list_owners(conn, second, NOW)}
    assert cat.removed is True                                              # kept, for history
    assert reason.previous_owner == "cat"
    assert reason.reason == "owner cat removed → rule 'Everyone' → team inbound → round_robin → ann (1 open)"
    assert listed["cat"].availability == "removed" and listed["cat"].open == 1   # the manual one
    assert listed["bob"].availability == "inactive" and listed["bob"].open == 0


def test_terminal_leads_are_never_routed(store, tmp_path, run_step):
    rules = make_rules(tmp_path, THREE % "round_robin")
    add_leads(store, 3, stage="customer")
    add_leads(store, 3, stage="disqualified")
    ctx = run_step(store, rules)
    assert ctx.counts["assigned"] == 0
    assert owners_of(store) == Counter({None: 6})


def test_unlisted_fallback_owner_is_an_always_available_queue(store, tmp_path, run_step):
    import dataclasses

    rules = make_rules(tmp_path, THREE % "round_robin")
    routing = rules.routing.model_copy(update={"owners": rules.routing.owners[:3]})   # queue no longer listed
    rules = dataclasses.replace(rules, routing=routing)
    routing2 = routing.model_copy(update={"owners": tuple(o.model_copy(update={"capacity": 1})
                                                          for o in routing.owners)})
    rules = dataclasses.replace(rules, routing=routing2)
    ids = add_leads(store, 5)
    run_step(store, rules)
    assert owners_of(store, ids) == Counter({"ann": 1, "bob": 1, "cat": 1, "queue": 2})
    with store.connect() as conn:
        listed = list_owners(conn, rules, NOW)
        assert conn.execute(select(func.count()).select_from(OWNERS).where(OWNERS.c.name == "queue")).scalar() == 0
    queue = [o for o in listed if o.name == "queue"][0]
    assert queue.availability == "queue" and queue.open == 2 and queue.last_assigned_at == NOW


def test_manual_assignment_is_never_undone_by_rules(store, tmp_path, run_step):
    rules = make_rules(tmp_path, THREE % "round_robin")
    ids = add_leads(store, 3, email=None)
    with store.begin() as conn:
        conn.execute(LEADS.update().where(LEADS.c.id == ids[0]).values(email="ada@example.com"))
    result = assign_lead(store, rules, "ADA@example.com", "cat", now=NOW)
    assert (result.lead_id, result.owner, result.team, result.previous_owner) == (ids[0], "cat", "inbound", None)
    run_step(store, rules)
    run_step(store, make_rules(tmp_path, THREE % "least_loaded", "other"), now=NOW + timedelta(days=1))
    with store.connect() as conn:
        lead = conn.execute(select(LEADS).where(LEADS.c.id == ids[0])).one()
        history = lead_assignments(conn, ids[0])
    assert lead.owner == "cat" and lead.assigned_manually is True
    assert [(h["owner"], h["manual"], h["reason"]) for h in history] == [("cat", True, "manual assignment")]
    with pytest.raises(NotFoundError) as err:
        assign_lead(store, rules, str(ids[1]), "zed", now=NOW)
    assert "no owner 'zed'" in err.value.message and "ann, bob, cat" in err.value.hint


def test_owners_list_shows_load_capacity_availability_and_last_assignment(store, tmp_path, run_step):
    rules = make_rules(tmp_path, CAPPED)
    add_leads(store, 2, owner="ann", team="emea")
    add_leads(store, 1, owner="bob", team="emea", stage="customer")
    with store.begin() as conn:
        sync_owners(conn, rules)
        conn.execute(OWNERS.insert().values(name="old", team="emea", timezone="UTC", weight=1, active=True,
                                            removed=True))
    lead = add_leads(store, 1, country="FR")
    run_step(store, rules, ids=lead)
    with store.connect() as conn:
        rows = {o.name: o for o in list_owners(conn, rules, NOW)}
    assert list(rows) == ["ann", "bob", "cat", "queue", "old"]
    assert (rows["ann"].load, rows["ann"].availability, rows["ann"].available) == ("2/2", "full", False)
    assert (rows["bob"].load, rows["bob"].availability, rows["bob"].last_assigned_at) == ("1/3", "available", NOW)
    assert rows["ann"].last_assigned_at is None
    assert rows["old"].availability == "removed"


def test_rotation_state_lives_in_meta(store, tmp_path, run_step):
    rules = make_rules(tmp_path, THREE % "weighted")
    run_step(store, rules, ids=add_leads(store, 4))
    from leadctl.store.db import get_meta

    with store.connect() as conn:
        state = json.loads(get_meta(conn, "routing.weighted.inbound"))
    assert set(state) == {"ann", "bob", "cat"} and sum(state.values()) == 0
