"""Routing strategies, capacity, away periods, inactive owners, fallback, manual assignment, reasons."""
from __future__ import annotations

import json
import textwrap
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import bindparam, func, select

from leadctl.engine.context import ProcessContext
from leadctl.engine.owners import list_owners, sync_owners
from leadctl.engine.routing import RoutingStep, assign_lead, lead_assignments
from leadctl.errors import NotFoundError
from leadctl.rules.loader import load_rules
from leadctl.store.models import Assignment, Lead, Owner

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
    rows = [{"created_at": NOW, "updated_at": NOW, "stage": "new", **values} for _ in range(n)]
    with store.begin() as conn:
        first = conn.execute(select(func.max(LEADS.c.id))).scalar() or 0
        conn.execute(LEADS.insert(), rows)
        return [r[0] for r in conn.execute(select(LEADS.c.id).where(LEADS.c.id > first).order_by(LEADS.c.id))]


COLUMNS = ("id", "email", "country", "employees", "source", "stage", "temperature", "owner", "team", "assigned_at",
           "assigned_manually", "last_contacted_at", "created_at", "score")


WRITTEN = ("owner", "team", "assigned_at", "assigned_manually")


def run_step(store, rules, now=NOW, *, batch: int = 5000, ids=None):
    """Drive RoutingStep the way `process` does: start, chunks (each its own transaction), finish."""
    step = RoutingStep()
    ctx = ProcessContext(conn=None, rules=rules, now=now)
    with store.begin() as conn:
        ctx.conn = conn
        step.start(ctx)
    stmt = select(*(LEADS.c[c] for c in COLUMNS)).order_by(LEADS.c.id)
    if ids is not None:
        stmt = stmt.where(LEADS.c.id.in_(ids))
    with store.connect() as conn:
        leads = [dict(r._mapping) for r in conn.execute(stmt)]
    for i in range(0, len(leads), batch):
        part = leads[i:i + batch]
        before = [dict(lead) for lead in part]
        with store.begin() as conn:
            ctx.conn = conn
            step.chunk(ctx, part)
            params = [{"_id": new["id"], **{c: new[c] for c in WRITTEN}} for old, new in zip(before, part)
                      if any(old[c] != new[c] for c in WRITTEN)]
            if params:
                conn.execute(LEADS.update().where(LEADS.c.id == bindparam("_id")), params)
    with store.begin() as conn:
        ctx.conn = conn
        step.finish(ctx)
    return ctx


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
def test_round_robin_even_across_imports(store, tmp_path, batches):
    rules = make_rules(tmp_path, THREE % "round_robin")
    for size in batches:
        ids = add_leads(store, size)
        run_step(store, rules, ids=ids, batch=700)
    counts = owners_of(store)
    assert sum(counts.values()) == 9000
    assert max(counts.values()) - min(counts.values()) <= 1
    assert set(counts) == {"ann", "bob", "cat"}
