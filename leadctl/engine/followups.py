"""Follow-up tasks: cadences, inactivity tasks, completing and snoozing, the due list.

Rules (followups.yaml, docs/rules.md) and the decisions this module makes:

* **Entry.** On `process`/`import`, a lead follows the first cadence whose `when`
  holds. If that cadence's `stop_when` holds too, the lead is in no cadence (it does
  not fall through to the next one). Entering creates *all* steps at once: step 1 is
  due `after` from the entry time (the run's `now`), each later step `after` from the
  previous step's due time, each moved into business hours in the owner's time zone
  (see `bizhours`). A lead enters a given cadence once: a cadence it has tasks of
  (in any status) is never entered again, so re-running `process` creates nothing twice.
* **Stop.** When the cadence's `stop_when` holds, its pending steps are cancelled.
* **Switch.** When the first matching cadence is another one, the old cadence's pending
  steps are cancelled and the lead enters the new one. A lead that matches no cadence
  any more keeps its pending steps (cooling from hot to cold should not silently drop
  the call that is owed); `stop_when` is the way to end a cadence.
  A cadence removed from (or renamed in) the rules has its pending steps cancelled.
* **Owner changes.** Pending tasks follow the lead's owner; a task that changes owner
  is reminded again (to its new owner). An SLA reassignment moves them at once, with
  the reassignment appended to their note (`move_open_tasks`).
* **Inactivity.** A task (kind `inactivity`, `cadence` = the rule's name) is created,
  due now fitted into business hours, when the rule's `when` holds and the lead has no
  task of that rule that is pending, or that was created since the lead's last
  activity (one task per quiet spell: marking it done without logging an activity does
  not bring it straight back). Both `process` and `followups remind` create them.
* **Completing by activity.** `complete_matching_task` maps activity types to actions
  (`ACTIVITY_ACTIONS`; any other type matches an action of the same name) and
  completes the earliest pending task of that action due at or before the activity;
  if none is due yet, the earliest one due within `EARLY_GRACE` (1 day) after it —
  calling ten minutes before the planned call does that call, not the one next week.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Iterable

from sqlalchemy import bindparam, exists, func, or_, select, text

from ..errors import NotFoundError, UsageError
from ..fields import DAYS_SINCE, condition_columns, names_of_type
from ..rules.durations import DurationError, parse_duration
from ..store import bulk, in_parts
from ..store.models import Activity, Followup, Lead, Owner
from ..words import activity_key
from .bizhours import Calendars, owner_zones
from .consent import COLUMNS as CONSENT_COLUMNS, allowed_sql, blocked_reason, channel_of, may_block
from .due import DueTask, lead_label, overdue_text
from .limits import ContactPlan

if TYPE_CHECKING:
    from ..rules.loader import RuleSet

FOLLOWUPS = Followup.__table__
LEADS = Lead.__table__
ACTIVITIES = Activity.__table__

PENDING, DONE, SKIPPED, CANCELLED = "pending", "done", "skipped", "cancelled"
CADENCE, INACTIVITY = "cadence", "inactivity"

# Activity type (normalised: lower case, spaces and hyphens as `_`) → task action it fulfils.
ACTIVITY_ACTIONS = {
    "call": "call", "phone_call": "call", "call_made": "call",
    "email": "email", "email_sent": "email",
    "meeting": "meeting", "meeting_held": "meeting",
}
EARLY_GRACE = timedelta(days=1)
_DATE_COLUMNS = names_of_type("datetime")


def action_for_activity(activity_type: str) -> str:
    """`email_sent` → `email`; an unmapped type is its own action (`demo` → `demo`)."""
    t = activity_key(activity_type)
    return ACTIVITY_ACTIONS.get(t, t)


def _append_note(reason: str):
    return func.coalesce(FOLLOWUPS.c.note + " | ", "") + reason


# ---------------------------------------------------------------- the process step
class FollowupStep:
    """The `process` pipeline's last step: cadence entry/stop/switch and inactivity tasks."""

    # do_not_contact and consent_*: a step of a channel the lead does not allow is skipped (engine.consent).
    # country: quiet hours in the lead's time zone when its country has one (engine.limits).
    columns = frozenset({"owner", "last_activity_at", "erased_at", "do_not_contact", "consent", "country",
                         *CONSENT_COLUMNS.values()})
    writes: frozenset = frozenset()

    def start(self, ctx) -> None:
        fu = ctx.rules.followups
        ctx.state["followups.calendars"] = Calendars(fu.business_hours, owner_zones(ctx.conn, ctx.rules))
        ctx.state["followups.cadences"] = {c.name: c for c in fu.cadences}

    def chunk(self, ctx, leads: list[dict]) -> None:
        fu = ctx.rules.followups
        if not leads or (not fu.cadences and not fu.inactivity):
            return
        cals: Calendars = ctx.state.get("followups.calendars") or Calendars(fu.business_hours,
                                                                              owner_zones(ctx.conn, ctx.rules))
        by_name = ctx.state.get("followups.cadences") or {c.name: c for c in fu.cadences}
        conn, now = ctx.conn, ctx.now
        ids = [lead["id"] for lead in leads]
        wanted = set(ids)
        tasks: dict[int, list] = defaultdict(list)
        q = select(FOLLOWUPS.c.id, FOLLOWUPS.c.lead_id, FOLLOWUPS.c.kind, FOLLOWUPS.c.cadence, FOLLOWUPS.c.status,
                   FOLLOWUPS.c.owner, FOLLOWUPS.c.created_at, FOLLOWUPS.c.action, FOLLOWUPS.c.due_at,
                   FOLLOWUPS.c.completed_at)
        lo, hi = min(ids), max(ids)
        # A chunk of consecutive ids is one range scan; scattered ids (process of a few leads) an IN list.
        wheres = ([FOLLOWUPS.c.lead_id.between(lo, hi)] if hi - lo < 4 * len(ids) + 100
                  else [FOLLOWUPS.c.lead_id.in_(part) for part in in_parts(sorted(wanted))])
        for where in wheres:
            for row in conn.execute(q.where(where)):
                if row.lead_id in wanted:
                    tasks[row.lead_id].append(row)

        new_rows: list[tuple] = []   # in the order of _TASK_KEYS
        cancel: dict[str, list[int]] = defaultdict(list)   # reason → task ids
        plan = ContactPlan(fu)  # contact limits and quiet hours: a touch that breaks one is moved
        placing = plan.active
        reowned: list[dict] = []
        cadences, inactivity = fu.cadences, fu.inactivity
        channels = _step_channels(ctx.state, fu)
        entered_n = 0
        note = ctx.note_change if hasattr(ctx, "note_change") else None
        for lead in leads:
            if lead.get("erased_at"):
                continue
            lid, owner = lead["id"], lead.get("owner")
            # Most leads allow every channel: then no step needs its consent looked up.
            blocking = may_block(lead)
            mine = tasks.get(lid, ())
            if mine:
                entered = {t.cadence for t in mine if t.kind == CADENCE}
                pending: dict[str, list] = defaultdict(list)
                for t in mine:
                    if t.status == PENDING and blocking and (why := blocked_reason(lead, t.action)):
                        cancel[f"skipped: {why}"].append(t.id)
                        continue
                    if t.status == PENDING and t.kind == CADENCE:
                        pending[t.cadence].append(t)
                    if t.status == PENDING and (t.owner or None) != (owner or None):
                        reowned.append({"tid": t.id, "new_owner": owner})
            else:
                entered, pending = _NOTHING, _NO_PENDING

            target = next((c for c in cadences if c.when(lead, now)), None)
            stopped = target is not None and target.stop_when is not None and target.stop_when(lead, now)
            for name, open_tasks in pending.items():
                cad = by_name.get(name)
                if cad is None:
                    reason = "cancelled: cadence no longer in the rules"
                elif cad.stop_when is not None and cad.stop_when(lead, now):
                    reason = "cancelled: stop_when holds"
                elif target is not None and target.name != name:
                    reason = f"cancelled: lead moved to cadence '{target.name}'"
                else:
                    continue
                cancel[reason].extend(t.id for t in open_tasks)
            touches = plan.touches(mine) if placing else []
            if target is not None and not stopped and target.name not in entered:
                cal = cals.for_owner(owner)
                due = now
                name = target.name
                for i, step in enumerate(target.steps, start=1):
                    due = cal.add(due, step.after)
                    why = blocked_reason(lead, step.action) if blocking else None
                    text = _with_reason(step.note, why)
                    if placing and not why:
                        due, moved = plan.place(touches, due, channels[step.action], cal, lead)
                        text = _with_note(text, moved)
                    new_rows.append((lid, owner, CADENCE, name, i, step.action, due,
                                     SKIPPED if why else PENDING, now, text))
                entered_n += 1
                if note is not None:
                    note(lid, cadence=name)

            for rule in inactivity:
                if rule.when(lead, now) and not _covered(mine, rule.name, lead.get("last_activity_at")):
                    why = blocked_reason(lead, rule.action) if blocking else None
                    at, text = cals.for_owner(owner).fit(now), _with_reason(rule.note, why)
                    if placing and not why:
                        at, moved = plan.place(touches, at, channels[rule.action], cals.for_owner(owner), lead)
                        text = _with_note(text, moved)
                    new_rows.append((lid, owner, INACTIVITY, rule.name, None, rule.action, at,
                                     SKIPPED if why else PENDING, now, text))
        if entered_n:
            ctx.counts["cadences_entered"] += entered_n

        if new_rows:
            _insert_tasks(conn, new_rows)
            ctx.counts["tasks_created"] += len(new_rows)
        for reason, tids in cancel.items():
            status = SKIPPED if reason.startswith("skipped:") else CANCELLED
            for part in in_parts(tids):
                n = conn.execute(FOLLOWUPS.update().where(FOLLOWUPS.c.id.in_(part), FOLLOWUPS.c.status == PENDING)
                                 .values(status=status, completed_at=now, note=_append_note(reason))).rowcount
                ctx.counts["tasks_cancelled" if status == CANCELLED else "tasks_skipped"] += n
        if reowned:
            conn.execute(FOLLOWUPS.update().where(FOLLOWUPS.c.id == bindparam("tid"))
                         .values(owner=bindparam("new_owner"), reminded_at=None), reowned)
            ctx.counts["tasks_reassigned"] += len(reowned)

    def finish(self, ctx) -> None:
        pass


_TASK_KEYS = ("lead_id", "owner", "kind", "cadence", "step", "action", "due_at", "status", "created_at", "note")


def _insert_tasks(conn, rows: list) -> None:
    """Insert task rows: dicts, or tuples in the order of _TASK_KEYS."""
    bulk.insert(conn, FOLLOWUPS, rows, _TASK_KEYS)


_NOTHING: frozenset = frozenset()
_NO_PENDING: dict = {}


def _step_channels(state: dict, fu: Any) -> dict[str, str | None]:
    """Each cadence step's and inactivity rule's action → its channel, worked out once per run."""
    channels = state.get("followups.channels")
    if channels is None:
        actions = [s.action for c in fu.cadences for s in c.steps] + [r.action for r in fu.inactivity]
        channels = state["followups.channels"] = {a: channel_of(a) for a in actions}
    return channels


def _with_reason(note: str | None, why: str | None) -> str | None:
    """A skipped step's note says why (`skipped: email opted_out: asked by phone`)."""
    if not why:
        return note
    return (note + " | " if note else "") + f"skipped: {why}"


def _with_note(note: str | None, more: str | None) -> str | None:
    return note if not more else (note + " | " if note else "") + more


def _covered(tasks: Iterable, rule_name: str, last_activity: datetime | None) -> bool:
    for t in tasks:
        if t.kind == INACTIVITY and t.cadence == rule_name:
            if t.status == PENDING or last_activity is None or t.created_at >= last_activity:
                return True
    return False


# ---------------------------------------------------------------- inactivity, set-wise (the sweep)
def _prefilter(spec: Any, now: datetime, rules: RuleSet) -> list:
    """SQL conditions every lead satisfying `spec` must meet (a sound, partial translation).

    Only the top-level conjunction is used: `stage` equality/in, `days_since_*`
    gte/gt/between, and `older_than` on the date columns. Everything else is left to
    the compiled condition, which still decides for each candidate.
    """
    out: list = []
    if isinstance(spec, list):
        for item in spec:
            out += _prefilter(item, now, rules)
        return out
    if not isinstance(spec, dict):
        return out
    for key, value in spec.items():
        if key == "all":
            out += _prefilter(value, now, rules)
        elif key == "stage":
            vals = _equal_values(value)
            if vals:
                stages = getattr(rules, "stages", None)
                names = set(vals)
                for v in vals:
                    canon = stages.resolve(v) if stages is not None else None
                    if canon:
                        names.add(canon)
                out.append(LEADS.c.stage.in_(sorted(names)))
        elif key in DAYS_SINCE and isinstance(value, dict):
            col = LEADS.c[DAYS_SINCE[key]]
            for op, arg in value.items():
                if op == "between" and isinstance(arg, list) and arg:
                    op, arg = "gte", arg[0]
                if op in ("gte", "gt") and isinstance(arg, (int, float)) and not isinstance(arg, bool):
                    cutoff = now - timedelta(days=arg)
                    out.append(col <= cutoff if op == "gte" else col < cutoff)
        elif key in _DATE_COLUMNS and isinstance(value, dict) and "older_than" in value:
            try:
                out.append(LEADS.c[key] < now - parse_duration(value["older_than"]))
            except DurationError:
                pass
    return out


def _equal_values(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    if isinstance(value, dict) and len(value) == 1:
        (op, arg), = value.items()
        if op in ("eq", "in"):
            return _equal_values(arg)
    return []


def _needed_columns(fields: Iterable[str]) -> tuple[set[str], bool, bool]:
    """The lead columns an inactivity rule's condition reads, with those every rule needs."""
    cols, attrs, acts = condition_columns(fields)
    return {"id", "owner", "last_activity_at", *cols}, attrs, acts


def _activity_facts(conn, ids: list[int]) -> dict[int, dict]:
    out: dict[int, dict] = defaultdict(dict)
    for part in in_parts(ids):
        q = (select(ACTIVITIES.c.lead_id, ACTIVITIES.c.type, func.count(), func.max(ACTIVITIES.c.at))
             .where(ACTIVITIES.c.lead_id.in_(part)).group_by(ACTIVITIES.c.lead_id, ACTIVITIES.c.type))
        for lid, typ, n, last in conn.execute(q):
            key = activity_key(typ)
            prev = out[lid].get(key)
            out[lid][key] = (n + prev[0], max(last, prev[1])) if prev else (n, last)
    return out


def create_inactivity_tasks(conn, rules: RuleSet, now: datetime, calendars: Calendars | None = None,
                            narrow: Callable[[Any], list | None] | None = None) -> int:
    """Create the inactivity tasks that are due at `now`; return how many.

    Candidates are narrowed in SQL (see `_prefilter`, and no covering task), then each
    is checked with the rule's compiled condition. `narrow(rule)`, when given, adds SQL
    conditions every lead the rule can newly take meets (the cron sweep's incremental
    scan, engine.remind), or returns None to look at every lead.
    """
    fu = rules.followups
    if not fu.inactivity:
        return 0
    cals = calendars or Calendars(fu.business_hours, owner_zones(conn, rules))
    plan = ContactPlan(fu)
    created = 0
    for rule in fu.inactivity:
        cols, attrs, acts = _needed_columns(rule.when.fields)
        cols.update(("do_not_contact", "consent", "country", *CONSENT_COLUMNS.values()))
        if attrs:
            cols.add("attributes")
        covered = exists().where(
            FOLLOWUPS.c.lead_id == LEADS.c.id, FOLLOWUPS.c.kind == INACTIVITY, FOLLOWUPS.c.cadence == rule.name,
            or_(FOLLOWUPS.c.status == PENDING, LEADS.c.last_activity_at.is_(None),
                FOLLOWUPS.c.created_at >= LEADS.c.last_activity_at))
        extra = narrow(rule) if narrow is not None else None
        q = (select(*(LEADS.c[c] for c in sorted(cols)))
             .where(LEADS.c.erased_at.is_(None), ~covered, *_prefilter(rule.when.source, now, rules), *(extra or ()))
             .order_by(LEADS.c.id))
        result = conn.execute(q)
        while True:
            rows = result.fetchmany(5000)
            if not rows:
                break
            leads = [dict(r._mapping) for r in rows]
            if acts:
                facts = _activity_facts(conn, [lead["id"] for lead in leads])
                for lead in leads:
                    lead["activity"] = facts.get(lead["id"], {})
            new = [dict(lead_id=lead["id"], owner=lead.get("owner"), kind=INACTIVITY, cadence=rule.name,
                        step=None, action=rule.action, due_at=cals.for_owner(lead.get("owner")).fit(now),
                        status=SKIPPED if (why := blocked_reason(lead, rule.action)) else PENDING,
                        created_at=now, note=_with_reason(rule.note, why))
                   for lead in leads if rule.when(lead, now)]
            if new and plan.active:  # contact limits and quiet hours move a task as in `process`
                _place_touches(conn, plan, new, {lead["id"]: lead for lead in leads}, cals)
            if new:
                _insert_tasks(conn, new)
                created += len(new)
    return created


def _place_touches(conn, plan: ContactPlan, rows: list[dict], leads: dict[int, dict], cals: Calendars) -> None:
    """Move new pending tasks (`rows`, changed in place) where the contact limits allow them."""
    touches: dict[int, list] = defaultdict(list)
    ids = sorted({r["lead_id"] for r in rows if r["status"] == PENDING})
    q = select(FOLLOWUPS.c.lead_id, FOLLOWUPS.c.action, FOLLOWUPS.c.status, FOLLOWUPS.c.due_at,
               FOLLOWUPS.c.completed_at)
    for part in in_parts(ids):
        for t in conn.execute(q.where(FOLLOWUPS.c.lead_id.in_(part), FOLLOWUPS.c.status.in_((PENDING, DONE)))):
            touches[t.lead_id].append(t)
    mine = {lid: plan.touches(ts) for lid, ts in touches.items()}
    for r in rows:
        if r["status"] == PENDING:
            r["due_at"], moved = plan.place(mine.setdefault(r["lead_id"], []), r["due_at"], channel_of(r["action"]),
                                            cals.for_owner(r["owner"]), leads.get(r["lead_id"], {}))
            r["note"] = _with_note(r["note"], moved)


# ---------------------------------------------------------------- moving tasks with their lead
def move_open_tasks(conn, moves: Iterable[tuple[int, str | None, str]]) -> int:
    """Give each lead's pending tasks to its new owner, noting why; return how many moved.

    `moves` holds (lead_id, new owner, note) — the note is appended to each task's note.
    A moved task is reminded again, to its new owner.
    """
    moved = 0
    for lead_id, owner, note in moves:
        moved += conn.execute(FOLLOWUPS.update().where(FOLLOWUPS.c.lead_id == lead_id, FOLLOWUPS.c.status == PENDING)
                              .values(owner=owner, reminded_at=None, note=_append_note(note))).rowcount
    return moved


# ---------------------------------------------------------------- working with tasks
def complete_matching_task(conn, lead_id: int, activity_type: str, at: datetime) -> int | None:
    """Mark done the pending task of `lead_id` that an activity of `activity_type` at `at` fulfils.

    Returns the task id, or None when no task matches (see the module docstring).
    """
    return complete_matching_tasks(conn, [(lead_id, activity_type, at)])[0]


def complete_matching_tasks(conn, events: Iterable[tuple[int, str, datetime]]) -> list[int | None]:
    """`complete_matching_task` for many events, in their order, with one query per 500 leads.

    Each event completes the earliest pending task of its lead and action that is due by
    its time, or else due within EARLY_GRACE after it — that is, the earliest one, if it is
    due by `at + EARLY_GRACE`. Returns the completed task id (or None) per event.
    """
    events = list(events)
    open_tasks: dict[tuple[int, str], list[tuple[datetime, int]]] = defaultdict(list)
    lead_ids = sorted({lead_id for lead_id, _, _ in events})
    for part in in_parts(lead_ids):
        for tid, lid, action, due in conn.execute(
                select(FOLLOWUPS.c.id, FOLLOWUPS.c.lead_id, func.lower(FOLLOWUPS.c.action), FOLLOWUPS.c.due_at)
                .where(FOLLOWUPS.c.lead_id.in_(part), FOLLOWUPS.c.status == PENDING)):
            open_tasks[(lid, action)].append((due, tid))
    for tasks in open_tasks.values():
        tasks.sort(reverse=True)  # earliest (due_at, id) last, so taking it is a pop()
    done: list[int | None] = []
    params = []
    for lead_id, activity_type, at in events:
        tasks = open_tasks.get((lead_id, action_for_activity(activity_type)))
        if tasks and tasks[-1][0] <= at + EARLY_GRACE:
            tid = tasks.pop()[1]
            params.append({"_id": tid, "_at": at})
            done.append(tid)
        else:
            done.append(None)
    if params:
        conn.execute(FOLLOWUPS.update().where(FOLLOWUPS.c.id == bindparam("_id"), FOLLOWUPS.c.status == PENDING)
                     .values(status=DONE, completed_at=bindparam("_at")), params)
    return done


def _task(conn, task_id: int):
    row = conn.execute(select(FOLLOWUPS).where(FOLLOWUPS.c.id == task_id)).first()
    if row is None:
        raise NotFoundError(f"no follow-up task {task_id}", hint="see `leadctl followups due`")
    return row


@dataclass
class TaskChange:
    id: int
    lead_id: int
    action: str
    status: str
    due_at: datetime
    owner: str | None
    due_local: str = ""


def complete_task(conn, task_id: int, now: datetime, note: str | None = None) -> TaskChange:
    """`followups done ID`: mark a pending task done (with an optional note)."""
    row = _task(conn, task_id)
    if row.status != PENDING:
        raise UsageError(f"task {task_id} is already {row.status}")
    values: dict[str, Any] = {"status": DONE, "completed_at": now}
    if note:
        values["note"] = _append_note(note)
    conn.execute(FOLLOWUPS.update().where(FOLLOWUPS.c.id == task_id).values(**values))
    return TaskChange(row.id, row.lead_id, row.action, DONE, row.due_at, row.owner)


def snooze_task(conn, rules: RuleSet, task_id: int, duration: str | timedelta, now: datetime) -> TaskChange:
    """`followups snooze ID 2h`: due again `duration` from now, fitted into business hours.

    A snoozed task is reminded again when it comes due.
    """
    td = parse_duration(duration)
    if td <= timedelta(0):
        raise UsageError("snooze needs a positive duration, e.g. 2h or 1d")
    row = _task(conn, task_id)
    if row.status != PENDING:
        raise UsageError(f"task {task_id} is {row.status}; only pending tasks can be snoozed")
    cals = Calendars(rules.followups.business_hours, owner_zones(conn, rules))
    cal = cals.for_owner(row.owner)
    due = cal.add(now, td)
    conn.execute(FOLLOWUPS.update().where(FOLLOWUPS.c.id == task_id).values(due_at=due, reminded_at=None))
    return TaskChange(row.id, row.lead_id, row.action, PENDING, due, row.owner, cal.local_text(due))


def due_select(now: datetime, *, owner: str | None = None, until: datetime | None = None,
               overdue: bool = False, segment: str | None = None):
    """The SELECT behind `followups due` (pending tasks due by `until`, default `now`)."""
    bound = FOLLOWUPS.c.due_at < now if overdue else FOLLOWUPS.c.due_at <= (until or now)
    q = (select(FOLLOWUPS.c.id, FOLLOWUPS.c.lead_id, FOLLOWUPS.c.owner, FOLLOWUPS.c.action, FOLLOWUPS.c.kind,
                FOLLOWUPS.c.cadence, FOLLOWUPS.c.step, FOLLOWUPS.c.due_at, FOLLOWUPS.c.note,
                LEADS.c.first_name, LEADS.c.last_name, LEADS.c.email, LEADS.c.company)
         .select_from(FOLLOWUPS.outerjoin(LEADS, LEADS.c.id == FOLLOWUPS.c.lead_id))
         .where(FOLLOWUPS.c.status == PENDING, bound,
                text(allowed_sql(FOLLOWUPS.name, LEADS.name))))  # never a channel the lead does not allow
    if owner is not None:
        q = q.where(FOLLOWUPS.c.owner.is_(None) if owner == "" else FOLLOWUPS.c.owner == owner)
    if segment:
        from .segments import segment_clause

        q = q.where(segment_clause(segment, FOLLOWUPS.c.lead_id))
    return q.order_by(FOLLOWUPS.c.due_at, FOLLOWUPS.c.id)


def resolve_owner(conn, rules: RuleSet, name: str) -> str:
    """An owner's name from a name or e-mail (case-insensitive); unknown names are kept as typed.

    `-`, `none` or `unassigned` mean tasks without an owner (returned as "").
    """
    if name.strip().lower() in ("-", "none", "unassigned", "(unassigned)"):
        return ""
    t = Owner.__table__
    key = name.strip().lower()
    row = conn.execute(select(t.c.name).where(or_(func.lower(t.c.name) == key, func.lower(t.c.email) == key))
                       .limit(1)).first()
    if row:
        return row[0]
    routing = getattr(rules, "routing", None)
    o = routing.owner(name) if routing is not None else None
    return o.name if o is not None else name.strip()


def due_tasks(conn, rules: RuleSet, now: datetime, *, owner: str | None = None, until: datetime | None = None,
              overdue: bool = False, limit: int | None = None, segment: str | None = None) -> list[DueTask]:
    """Open tasks due by `until` (default `now`), earliest first; `overdue` = due before `now` only."""
    if limit is not None and limit < 0:
        raise UsageError("must be 0 (no limit) or more", option="--limit")
    if owner is not None:
        owner = resolve_owner(conn, rules, owner)
    if segment is not None:
        from .segments import resolve_segment

        segment = resolve_segment(rules, segment)
    q = due_select(now, owner=owner, until=until, overdue=overdue, segment=segment)
    if limit:
        q = q.limit(limit)
    cals = Calendars(rules.followups.business_hours, owner_zones(conn, rules))
    out = []
    for r in conn.execute(q):
        cal = cals.for_owner(r.owner)
        out.append(DueTask(r.id, r.lead_id, lead_label(r.first_name, r.last_name, r.email, r.company, r.lead_id),
                           r.owner, r.action, r.kind, r.cadence, r.step, r.due_at, cal.local_text(r.due_at),
                           overdue_text(r.due_at, now), r.note))
    return out


__all__ = ["ACTIVITY_ACTIONS", "EARLY_GRACE", "FollowupStep", "DueTask", "TaskChange", "action_for_activity",
           "complete_matching_task", "complete_matching_tasks", "complete_task", "move_open_tasks", "snooze_task",
           "due_tasks", "create_inactivity_tasks", "lead_label", "overdue_text"]
