"""SLA checks (routing.yaml `sla:`): leads not contacted within `within` of their assignment.

    breaches = check_sla(conn, rules, now)          # list of dicts, one per stored breach row
    breaches = check_sla(conn, rules, now, dry_run=True)   # what would happen; nothing written

Runs in `process` (the routing step's start) and in the cron sweep (`followups remind`).

* The window is business time in the owner's calendar (followups.yaml `business_hours`,
  the owner's time zone — the calendar of cadences, see `bizhours.add_business`): `1h`
  is an hour of business hours, each whole day (`1d`) a business day. A hot lead that
  arrives at 22:00 is due at 10:00 the next business morning, not at 23:00.
* A lead is breached by a rule when it is open, has an owner, matches the rule's `when`
  at the check, its deadline is *before* `now` (at exactly the deadline it is still in
  time), and it was not contacted between its assignment and the deadline (a contact at
  exactly the deadline is in time).
* `then: reassign` hands the lead to the next owner routing would choose with its
  current owner excluded (same rules, same strategy and rotation), stores the
  assignment with its reason, and moves the lead's open follow-up tasks to the new
  owner with the reassignment noted on them. Nobody else able → the lead stays; the
  breach is still recorded. A lead already contacted (late) is recorded but not taken away.
* `max_reassignments` (default 1): a lead that SLA checks have already reassigned that
  many times (by any rule) is not taken away again; the breach is stored as `notify`
  instead, so its owner is told, and the lead stops bouncing between owners.
* `then: notify` stores the breach with `notified_at` NULL; the reminder sweep sends it
  and sets `notified_at`.
* A breach is stored once per (lead, rule, assignment time), however often checks run.
* Deadlines are judged once: each check looks at deadlines since the previous check
  (meta `sla.checked_until`), so the cron sweep reads only recent deadlines, not every
  lead ever assigned. A clock moved backwards (`--now` earlier than the last check)
  looks at every deadline before `now` again (the store already dedupes).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, func, not_, or_, select
from sqlalchemy.engine import Connection

from ..clock import naive_utc
from ..rules.vocabulary import lead_field
from ..store import in_parts
from ..store.db import get_meta, set_meta
from ..store.models import Activity, Assignment, Lead, SlaBreach
from ..store.sqlfuncs import seconds_within
from ..words import activity_key
from .bizhours import BusinessCalendar, Calendars, owner_zones
from .followups import move_open_tasks
from .owners import terminal_stages
from .routing import Router, assign, insert_assignments
from .sweepscan import sla_window

if TYPE_CHECKING:
    from ..rules.loader import RuleSet

LEADS = Lead.__table__
BREACHES = SlaBreach.__table__
ACTS = Activity.__table__
ASSIGNMENTS = Assignment.__table__
WATERMARK = "sla.checked_until"
_SKIP = ("explanation",)
REASON_PREFIX = "SLA '"        # how an SLA reassignment's stored reason starts (counted for max_reassignments)


def _in_time_sql(within: timedelta) -> Any:
    """SQL: contacted within `within` (no later than any deadline) of assignment — surely in time."""
    lc, at = LEADS.c.last_contacted_at, LEADS.c.assigned_at
    # Python decides the borderline cases (whole seconds on SQLite) exactly.
    return and_(lc.is_not(None), lc >= at, seconds_within(at, lc, within))


def _activity(conn: Connection, leads: list[dict]) -> None:
    by_id = {lead["id"]: lead for lead in leads}
    for lead in leads:
        lead["activity"] = {}
    ids = list(by_id)
    for part in in_parts(ids):
        stmt = (select(ACTS.c.lead_id, ACTS.c.type, func.count(), func.max(ACTS.c.at))
                .where(ACTS.c.lead_id.in_(part)).group_by(ACTS.c.lead_id, ACTS.c.type))
        for lead_id, typ, n, last in conn.execute(stmt):
            agg = by_id[lead_id]["activity"]
            k = activity_key(typ)
            n0, l0 = agg.get(k, (0, None))
            agg[k] = (n0 + n, last if l0 is None or (last is not None and last > l0) else l0)


def _existing(conn: Connection, ids: list[int]) -> set[tuple]:
    seen = set()
    for part in in_parts(ids):
        stmt = select(BREACHES.c.lead_id, BREACHES.c.rule, BREACHES.c.assigned_at).where(
            BREACHES.c.lead_id.in_(part))
        for lead_id, rule, at in conn.execute(stmt):
            seen.add((lead_id, rule, naive_utc(at)))
    return seen


def _whole_leads(conn: Connection, ids: list[int]) -> dict[int, dict]:
    """The leads `ids` as dicts of every column but the explanation, times naive UTC, in id order."""
    cols = [c for c in LEADS.c if c.name not in _SKIP]
    out: dict[int, dict] = {}
    for part in in_parts(ids):
        for row in conn.execute(select(*cols).where(LEADS.c.id.in_(part)).order_by(LEADS.c.id)):
            lead = _naive(dict(row._mapping))
            out[lead["id"]] = lead
    return out


_FIRST = ("id", "owner", "assigned_at", "last_contacted_at")  # what a deadline needs
_DATES = ("assigned_at", "last_contacted_at", "created_at", "last_activity_at")


def _naive(lead: dict) -> dict:
    for c in _DATES:
        if c in lead:
            lead[c] = naive_utc(lead[c])
    return lead


def _plain_columns(fields: frozenset[str]) -> frozenset[str] | None:
    """The lead columns a `when:` reads when it reads nothing else (no attribute, activity, derived
    field), else None."""
    for f in fields:
        if f not in LEADS.c or f in _SKIP or getattr(lead_field(f), "key", None) != f:
            return None
    return fields


def reassignment_counts(conn: Connection, ids: list[int]) -> dict[int, int]:
    """How often SLA checks have reassigned each lead (from the stored assignments)."""
    out: dict[int, int] = {}
    for part in in_parts(ids):
        stmt = (select(ASSIGNMENTS.c.lead_id, func.count())
                .where(ASSIGNMENTS.c.lead_id.in_(part), ASSIGNMENTS.c.manual.is_(False),
                       ASSIGNMENTS.c.reason.like(REASON_PREFIX + "%"))
                .group_by(ASSIGNMENTS.c.lead_id))
        out.update({lead_id: n for lead_id, n in conn.execute(stmt)})
    return out


def check_sla(conn: Connection, rules: RuleSet, now: datetime, *, dry_run: bool = False,
              calendars: Calendars | None = None) -> list[dict[str, Any]]:
    """Find SLA breaches due since the last check, store them and reassign where the rule says.

    Returns one dict per breach row: lead_id, rule, owner, assigned_at, due_at, breached_at,
    action (reassign | notify), new_owner (after a reassignment, else None), note.
    """
    sla = rules.routing.sla
    if not sla:
        return []
    hours = getattr(getattr(rules, "followups", None), "business_hours", None)
    cals = calendars or Calendars(hours, owner_zones(conn, rules))
    zone_cals = [BusinessCalendar(cals.hours, z) for z in sorted({"UTC", *cals.zones.values()})]
    raw = get_meta(conn, WATERMARK)
    last = datetime.fromisoformat(raw) if raw else None
    since = last if last is not None and last <= now else None  # deadlines >= since are new
    if since == now:
        return []  # no deadline can fall in [since, now): this clock's check has been made
    terminal = sorted(terminal_stages(rules))
    per_rule = []
    for r in sla:
        # Windows that ended before `now` started by `latest`; those ending at or after `since` at or
        # after `earliest` — in any owner's zone. The index on assigned_at reads just that range.
        earliest, latest, shortest = sla_window(zone_cals, now, since, r.within)
        # A deadline is never before its assignment, so a lead assigned at `now` cannot be late yet
        # (a `process` run at this same `now` leaves every lead it assigned there).
        parts = [LEADS.c.assigned_at <= latest, LEADS.c.assigned_at < now]
        if earliest is not None:
            parts.append(LEADS.c.assigned_at >= earliest)
        parts.append(not_(_in_time_sql(shortest)))
        per_rule.append(and_(*parts))
    # First pass, on the four columns a deadline needs (a mass assignment puts most of a store in
    # the window): the (lead, rule) pairs whose business-time deadline fell in [since, now).
    # A rule whose `when` reads only plain lead columns is tested here too, on those columns: a
    # lead it does not match is never read whole. (A lead an earlier rule reassigns in this check
    # is not judged again, so the values tested here are the ones the whole row would show.)
    plain = [_plain_columns(r.when.fields) for r in sla]
    names = (*_FIRST, *sorted({c for cols in plain if cols is not None for c in cols} - set(_FIRST)))
    stmt = select(*(LEADS.c[c] for c in names)).where(
        LEADS.c.owner.is_not(None), LEADS.c.assigned_at.is_not(None), LEADS.c.erased_at.is_(None), or_(*per_rule))
    if terminal:
        stmt = stmt.where(LEADS.c.stage.not_in(terminal))
    due_ids: list[tuple[int, Any, datetime]] = []
    for row in conn.execute(stmt.order_by(LEADS.c.id)):
        lead_id, owner, at, lc = row[0], row[1], naive_utc(row[2]), naive_utc(row[3])
        cal = cals.for_owner(owner)
        head = None
        for r, cols in zip(sla, plain):
            due = cal.add_business(at, r.within)  # remembered per calendar (leads assigned together)
            if not due < now or (since is not None and due < since):
                continue
            if lc is not None and at <= lc <= due:
                continue
            if cols is not None:
                head = head or _naive(dict(zip(names, row)))
                if not r.when.test(head, now):
                    continue
            due_ids.append((lead_id, r, due))
    # Then the whole rows (rules' `when` and routing read them) of the leads with a deadline passed.
    by_id = _whole_leads(conn, sorted({lead_id for lead_id, _, _ in due_ids}))
    due_pairs = [(by_id[lead_id], r, due) for lead_id, r, due in due_ids]
    leads = list(by_id.values())
    for lead in leads:
        if lead.get("attributes") is None:
            lead["attributes"] = {}
    if leads and any(f.startswith("activity.") for r in sla for f in r.when.fields):
        _activity(conn, leads)
    ids = [lead["id"] for lead in leads]
    seen = _existing(conn, ids) if leads else set()
    moved_by_sla = (reassignment_counts(conn, ids)
                    if leads and any("reassign" in r.then for r in sla) else {})
    out: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    assignments: list[dict[str, Any]] = []
    moves: list[tuple[int, str, str]] = []
    router = None
    for lead, r, due in due_pairs:
        # The lead may have been reassigned by an earlier rule in this same check: that starts a new clock.
        at, owner = lead["assigned_at"], lead["owner"]
        if at is None or owner is None or not due < now or at >= now:
            continue
        lc = lead["last_contacted_at"]
        if (lead["id"], r.name, at) in seen or not r.when.test(lead, now):
            continue
        seen.add((lead["id"], r.name, at))
        base = {"lead_id": lead["id"], "rule": r.name, "owner": owner, "assigned_at": at, "due_at": due,
                "breached_at": now}
        new_owner, note, actions = None, None, r.then
        done = moved_by_sla.get(lead["id"], 0)
        if "reassign" in r.then and done >= r.max_reassignments:
            # Enough bouncing: tell the owner instead of taking the lead away again.
            actions = ("notify",)
            note = (f"already reassigned {done} time{'' if done == 1 else 's'} "
                    f"(max_reassignments: {r.max_reassignments}); notify only")
        elif "reassign" in r.then:
            if lc is not None and lc >= at:
                note = f"contacted late ({lc:%Y-%m-%d %H:%M}); not reassigned"
            else:
                if router is None:
                    router = Router.load(conn, rules, now)
                decision = router.route(lead, exclude=router.owner_key(owner))
                if decision.owner is None:
                    note = f"nobody else can take it: {decision.reason}"
                else:
                    new_owner = decision.owner
                    why = f"{REASON_PREFIX}{r.name}' breached (due {due:%Y-%m-%d %H:%M}, {owner})"
                    decision.reason = f"{why} → {decision.reason}"
                    assignments.append(assign(lead, decision, now))
                    updates.append({"_id": lead["id"], "owner": lead["owner"], "team": lead["team"],
                                    "assigned_at": now, "assigned_manually": False, "updated_at": now})
                    moved_by_sla[lead["id"]] = done + 1
                    moves.append((lead["id"], new_owner, f"reassigned from {owner} to {new_owner} "
                                  f"at {now:%Y-%m-%d %H:%M} UTC: SLA '{r.name}' missed"))
        for action in actions:
            rows.append({**base, "action": action, "notified_at": None})
            out.append({**base, "action": action, "new_owner": new_owner, "note": note})
    if not dry_run:
        if rows:
            conn.execute(BREACHES.insert(), rows)
        if updates:
            conn.execute(LEADS.update().where(LEADS.c.id == bindparam("_id")), updates)
        if assignments:
            insert_assignments(conn, assignments)
        if moves:
            move_open_tasks(conn, moves)
        if router is not None:
            router.save(conn)
        if last is None or now > last:
            set_meta(conn, WATERMARK, now.isoformat())
    return out


def sla_check(ctx) -> None:
    """`process`'s SLA check (RoutingStep runs it before routing): breaches and reassignments counted."""
    if not ctx.rules.routing.sla:
        return
    breaches = check_sla(ctx.conn, ctx.rules, ctx.now)
    ctx.counts["sla_breaches"] += len({(b["lead_id"], b["rule"]) for b in breaches})
    ctx.counts["sla_reassigned"] += sum(1 for b in breaches if b.get("new_owner"))
