"""SLA checks (routing.yaml `sla:`): leads not contacted within `within` of their assignment.

    breaches = check_sla(conn, rules, now)          # list of dicts, one per stored breach row
    breaches = check_sla(conn, rules, now, dry_run=True)   # what would happen; nothing written

Runs in `process` (the routing step's start) and in the cron sweep (`followups remind`).

* A lead is breached by a rule when it is open, has an owner, matches the rule's `when`
  at the check, its deadline `assigned_at + within` is *before* `now` (at exactly the
  deadline it is still in time), and it was not contacted between its assignment and
  the deadline (a contact at exactly the deadline is in time).
* `then: reassign` hands the lead to the next owner routing would choose with its
  current owner excluded (same rules, same strategy and rotation) and stores the
  assignment with its reason. Nobody else able → the lead stays; the breach is still
  recorded. A lead already contacted (late) is recorded but not taken away.
* `then: notify` stores the breach with `notified_at` NULL; the reminder sweep sends it
  and sets `notified_at`.
* A breach is stored once per (lead, rule, assignment time), however often checks run.
* Deadlines are judged once: each check looks at deadlines since the previous check
  (meta `sla.checked_until`), so the cron sweep reads only recent deadlines, not every
  lead ever assigned. A clock moved backwards (`--now` earlier than the last check)
  looks at every deadline before `now` again (the store already dedupes).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, bindparam, cast, func, not_, or_, select
from sqlalchemy.engine import Connection

from ..store.db import get_meta, set_meta
from ..store.models import Activity, Lead, SlaBreach
from .owners import terminal_stages

LEADS = Lead.__table__
BREACHES = SlaBreach.__table__
ACTS = Activity.__table__
WATERMARK = "sla.checked_until"
_SKIP = ("explanation",)


def _in_time_sql(conn: Connection, within) -> Any:
    """SQL: contacted between assignment and deadline — a prefilter that never drops a breach."""
    lc, at = LEADS.c.last_contacted_at, LEADS.c.assigned_at
    if conn.dialect.name == "sqlite":
        # Whole seconds, strictly below the deadline: surely in time; Python decides the rest exactly.
        secs = int(within.total_seconds())
        return and_(lc.is_not(None), lc >= at,
                    cast(func.strftime("%s", lc), Integer) < cast(func.strftime("%s", at), Integer) + secs)
    return and_(lc.is_not(None), lc >= at, lc <= at + within)


def _activity(conn: Connection, leads: list[dict]) -> None:
    from .scoring import norm_type

    by_id = {lead["id"]: lead for lead in leads}
    for lead in leads:
        lead["activity"] = {}
    ids = list(by_id)
    for i in range(0, len(ids), 500):
        stmt = (select(ACTS.c.lead_id, ACTS.c.type, func.count(), func.max(ACTS.c.at))
                .where(ACTS.c.lead_id.in_(ids[i:i + 500])).group_by(ACTS.c.lead_id, ACTS.c.type))
        for lead_id, typ, n, last in conn.execute(stmt):
            agg = by_id[lead_id]["activity"]
            k = norm_type(typ)
            n0, l0 = agg.get(k, (0, None))
            agg[k] = (n0 + n, last if l0 is None or (last is not None and last > l0) else l0)


def _existing(conn: Connection, ids: list[int]) -> set[tuple]:
    from .leadquery import naive_utc

    seen = set()
    for i in range(0, len(ids), 500):
        stmt = select(BREACHES.c.lead_id, BREACHES.c.rule, BREACHES.c.assigned_at).where(
            BREACHES.c.lead_id.in_(ids[i:i + 500]))
        for lead_id, rule, at in conn.execute(stmt):
            seen.add((lead_id, rule, naive_utc(at)))
    return seen


def check_sla(conn: Connection, rules, now: datetime, *, dry_run: bool = False) -> list[dict[str, Any]]:
    """Find SLA breaches due since the last check, store them and reassign where the rule says.

    Returns one dict per breach row: lead_id, rule, owner, assigned_at, due_at, breached_at,
    action (reassign | notify), new_owner (after a reassignment, else None), note.
    """
    from .leadquery import naive_utc

    sla = rules.routing.sla
    if not sla:
        return []
    raw = get_meta(conn, WATERMARK)
    last = datetime.fromisoformat(raw) if raw else None
    since = last if last is not None and last <= now else None  # deadlines >= since are new
    terminal = sorted(terminal_stages(rules))
    per_rule = []
    for r in sla:
        parts = [LEADS.c.assigned_at < now - r.within]
        if since is not None:
            parts.append(LEADS.c.assigned_at >= since - r.within)
        parts.append(not_(_in_time_sql(conn, r.within)))
        per_rule.append(and_(*parts))
    cols = [c for c in LEADS.c if c.name not in _SKIP]
    stmt = select(*cols).where(LEADS.c.owner.is_not(None), LEADS.c.assigned_at.is_not(None),
                               LEADS.c.erased_at.is_(None), or_(*per_rule))
    if terminal:
        stmt = stmt.where(LEADS.c.stage.not_in(terminal))
    leads = [dict(r._mapping) for r in conn.execute(stmt.order_by(LEADS.c.id))]
    for lead in leads:
        for c in ("assigned_at", "last_contacted_at", "created_at", "last_activity_at"):
            lead[c] = naive_utc(lead[c])
        if lead.get("attributes") is None:
            lead["attributes"] = {}
    if leads and any(f.startswith("activity.") for r in sla for f in r.when.fields):
        _activity(conn, leads)
    seen = _existing(conn, [lead["id"] for lead in leads]) if leads else set()
    out: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    assignments: list[dict[str, Any]] = []
    router = None
    for lead in leads:
        for r in sla:
            at, owner = lead["assigned_at"], lead["owner"]
            if at is None or owner is None:
                break
            due = at + r.within
            if not due < now or (since is not None and due < since):
                continue
            lc = lead["last_contacted_at"]
            if lc is not None and at <= lc <= due:
                continue
            if (lead["id"], r.name, at) in seen or not r.when.test(lead, now):
                continue
            seen.add((lead["id"], r.name, at))
            base = {"lead_id": lead["id"], "rule": r.name, "owner": owner, "assigned_at": at, "due_at": due,
                    "breached_at": now}
            new_owner, note = None, None
            if "reassign" in r.then:
                if lc is not None and lc >= at:
                    note = f"contacted late ({lc:%Y-%m-%d %H:%M}); not reassigned"
                else:
                    if router is None:
                        from .routing import Router

                        router = Router.load(conn, rules, now)
                    decision = router.route(lead, exclude=router.owner_key(owner))
                    if decision.owner is None:
                        note = f"nobody else can take it: {decision.reason}"
                    else:
                        from .routing import assign

                        new_owner = decision.owner
                        decision.reason = (f"SLA '{r.name}' breached (due {due:%Y-%m-%d %H:%M}, {owner}) → "
                                           f"{decision.reason}")
                        assignments.append(assign(lead, decision, now))
                        updates.append({"_id": lead["id"], "owner": lead["owner"], "team": lead["team"],
                                        "assigned_at": now, "assigned_manually": False, "updated_at": now})
            for action in r.then:
                rows.append({**base, "action": action, "notified_at": None})
                out.append({**base, "action": action, "new_owner": new_owner, "note": note})
    if not dry_run:
        if rows:
            conn.execute(BREACHES.insert(), rows)
        if updates:
            conn.execute(LEADS.update().where(LEADS.c.id == bindparam("_id")), updates)
        if assignments:
            from .routing import insert_assignments

            insert_assignments(conn, assignments)
        if router is not None:
            router.save(conn)
        if last is None or now > last:
            set_meta(conn, WATERMARK, now.isoformat())
    return out
