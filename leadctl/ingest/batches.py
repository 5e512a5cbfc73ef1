"""Import batches: list, show, and undo — an undo that keeps every change made since the batch.

    result = undo_batch(store, 2, dry_run=True)   # what would change, nothing written
    result = undo_batch(store, 2)                 # revert it; result.conflicts lists what was kept

A lead batch's undo restores a field only where the lead still holds the value the batch
wrote (`batch_changes.after`); a lead the batch created is deleted only when nothing else
has touched it since (`force` deletes it anyway, after reporting it). An activity batch's
undo deletes its activities, re-opens the follow-up tasks they completed and puts
`last_activity_at` / `last_contacted_at` back.
"""
from __future__ import annotations

import os
import socket
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Sequence

from sqlalchemy import and_, delete, func, or_, select

from ..clock import utcnow
from ..errors import LeadctlError, NotFoundError
from ..store import in_parts
from ..store.db import Store
from ..store.history import relink_stage_history
from ..store.tables import (
    ACTIVITIES,
    ASSIGNMENTS,
    BATCH_CHANGES,
    BATCHES,
    FOLLOWUPS,
    IDENTIFIERS,
    IMPORTED_ROWS,
    LEADS,
    POSSIBLE_DUPLICATES,
    STAGE_HISTORY,
)

_DATETIME_FIELDS = {"created_at", "last_activity_at", "last_contacted_at", "stage_changed_at", "updated_at",
                    "assigned_at"}
# Fields that follow another one: a conflict on them is reported under the field they follow.
_FOLLOWS = {"stage_changed_at": "stage", "email_domain": "email"}
_ACTIVITY_TIMES = ("last_activity_at", "last_contacted_at")
_PART = 500
_MISSING = object()

B = BATCHES
BC = BATCH_CHANGES
ACTS = ACTIVITIES
HISTORY = STAGE_HISTORY
TASKS = FOLLOWUPS
DUPLICATES = POSSIBLE_DUPLICATES
ROWS = IMPORTED_ROWS


def start_batch(conn, kind: str, files: str, options: dict[str, Any]) -> int:
    """A new running batch of `kind` (`leads`, `activities`), stamped with the wall clock; its id.

    Batches record when they really ran, whatever `--now` says (that is the logical time of
    what they import); the options get who runs it, so a killed batch can be told from a live one.
    """
    options = {**options, "pid": os.getpid(), "host": socket.gethostname()}
    return conn.execute(B.insert().values(kind=kind, files=files, sha256="", status="running",
                                          started_at=utcnow(), options=options)).inserted_primary_key[0]


def finish_batch(store: Store, batch_id: int, status: str, **counts: Any) -> None:
    """Record how a batch ended (`complete`, `failed`, `interrupted`), its counts and message, in a
    transaction of its own, stamped with the wall clock."""
    with store.begin() as conn:
        conn.execute(B.update().where(B.c.id == batch_id).values(status=status, finished_at=utcnow(), **counts))


def list_batches(store: Store, limit: int | None = None) -> list[dict[str, Any]]:
    """Every batch, newest first."""
    q = select(B).order_by(B.c.id.desc())
    if limit:
        q = q.limit(limit)
    with store.connect() as conn:
        return [_describe(dict(r._mapping)) for r in conn.execute(q)]


def get_batch(store: Store, batch_id: int) -> dict[str, Any]:
    """One batch by id (NotFoundError when there is none)."""
    with store.connect() as conn:
        row = conn.execute(select(B).where(B.c.id == batch_id)).first()
    if row is None:
        raise NotFoundError(f"no batch {batch_id}", hint="`leadctl batches` lists them")
    return _describe(dict(row._mapping))


def _describe(batch: dict[str, Any]) -> dict[str, Any]:
    # A batch still "running" when nobody is importing was stopped mid-way (killed, power cut).
    if batch["status"] == "running":
        batch["status"] = "running or incomplete"
        if _running_elsewhere(batch) is False:
            batch["status"] = "incomplete (killed)"
    return batch


def _running_elsewhere(batch: dict[str, Any]) -> bool | None:
    """True: another live process on this host runs it; False: its process is gone; None: cannot tell."""
    opts = batch.get("options") or {}
    if opts.get("host") != socket.gethostname() or not isinstance(opts.get("pid"), int):
        return None
    if opts["pid"] == os.getpid():
        return False  # this process: an import taking back its own chunks
    return _alive(opts["pid"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: it exists
        return True
    return True


# ---------------------------------------------------------------- the undo's result
@dataclass
class FieldChange:
    """A field undo writes back: `current` is what the lead holds now, `restored` what it gets."""

    lead_id: int
    field: str
    current: Any
    restored: Any


@dataclass
class Conflict:
    """A field (or follow-up task) changed since the batch: undo keeps `value` and says why."""

    lead_id: int
    field: str
    value: Any
    reason: str


@dataclass
class KeptLead:
    """A lead the batch created that was touched since (kept, or deleted with force)."""

    lead_id: int
    label: str
    reasons: list[str]


@dataclass
class UndoResult:
    """What an undo did (or, with dry_run, would do); every count is a real change."""

    batch: int
    kind: str
    dry_run: bool = False
    force: bool = False
    deleted: list[int] = field(default_factory=list)        # leads deleted (created by the batch)
    forced: list[KeptLead] = field(default_factory=list)    # ... of which touched since (deleted by force)
    kept: list[KeptLead] = field(default_factory=list)      # leads it created, kept: touched since
    restored: list[FieldChange] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    activities_deleted: int = 0
    activities: dict[int, int] = field(default_factory=dict)    # lead id → its activities deleted
    tasks_reopened: list[int] = field(default_factory=list)
    recreated: list[int] = field(default_factory=list)      # leads a merge batch removed, put back
    affected: set[int] = field(default_factory=set, repr=False)  # leads still there whose data changed

    @property
    def leads_restored(self) -> int:
        return len({c.lead_id for c in self.restored})

    @property
    def changes_anything(self) -> bool:
        return bool(self.deleted or self.restored or self.activities_deleted or self.tasks_reopened
                    or self.recreated)

    def counts(self) -> dict[str, int]:
        return {"deleted": len(self.deleted), "restored": self.leads_restored, "fields_restored": len(self.restored),
                "kept": len(self.kept), "conflicts": len(self.conflicts), "forced": len(self.forced),
                "activities_deleted": self.activities_deleted, "tasks_reopened": len(self.tasks_reopened),
                "recreated": len(self.recreated)}

    def describe(self) -> str:
        """One line: what the undo did (or would do), then what it kept."""
        def verb(present: str, past: str) -> str:
            return f"would {present}" if self.dry_run else past

        parts = []
        if self.recreated:
            parts.append(f"{verb('split', 'split')} {_n(len(self.recreated), 'merged lead')} back out")
        if self.deleted:
            parts.append(f"{verb('delete', 'deleted')} {_n(len(self.deleted), 'lead')}"
                         + (f" ({len(self.forced)} changed since, --force)" if self.forced else ""))
        if self.restored:
            parts.append(f"{verb('restore', 'restored')} {_n(len(self.restored), 'field')} "
                         f"on {_n(self.leads_restored, 'lead')}")
        if self.activities_deleted:
            parts.append(f"{verb('delete', 'deleted')} {_n(self.activities_deleted, 'activity', 'activities')}")
        if self.tasks_reopened:
            parts.append(f"{verb('re-open', 're-opened')} {_n(len(self.tasks_reopened), 'follow-up task')}")
        text = "; ".join(parts) or ("would change nothing" if self.dry_run else "nothing changed")
        kept = []
        if self.kept:
            kept.append(_n(len(self.kept), "lead") + " it created")
        if self.conflicts:
            kept.append(_n(len(self.conflicts), "value"))
        if kept:
            text += f"; {verb('keep', 'kept')} " + " and ".join(kept) + " changed since"
        return text

    def as_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data (`batches undo --format json`)."""
        def leads(items: list[KeptLead]) -> list[dict[str, Any]]:
            return [{"lead": k.lead_id, "label": k.label, "reasons": k.reasons} for k in items]

        return {
            "batch": self.batch, "kind": self.kind, "dry_run": self.dry_run, "counts": self.counts(),
            "deleted": list(self.deleted), "forced": leads(self.forced), "kept": leads(self.kept),
            "restored": [{"lead": c.lead_id, "field": c.field, "current": _plain(c.current),
                          "restored": _plain(c.restored)} for c in self.restored],
            "conflicts": [{"lead": c.lead_id, "field": c.field, "kept": _plain(c.value), "reason": c.reason}
                          for c in self.conflicts],
            "activities_deleted": self.activities_deleted,
            "activities": [{"lead": lid, "deleted": n} for lid, n in sorted(self.activities.items())],
            "tasks_reopened": list(self.tasks_reopened),
            "recreated": list(self.recreated),
        }


def _n(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else (plural or noun + 's')}"


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


# ---------------------------------------------------------------- undo
def undo_batch(store: Store, batch_id: int, *, force: bool = False, dry_run: bool = False,
               now: datetime | None = None) -> UndoResult:
    """Revert a batch, keeping every change made since; `dry_run` plans without writing.

    A failed import takes back its own chunks through this too (nothing has touched them).
    """
    with store.connect() as conn:
        kind = _batch(conn, batch_id).get("kind")
    if kind == "merge":  # a reviewed duplicate plan (dedupe.merge); a dry run rolls back
        from ..dedupe.merge import undo_merge_batch

        with store.connect() as conn:
            trans = conn.begin()
            batch = _batch(conn, batch_id)
            result = UndoResult(batch=batch_id, kind="merge", dry_run=dry_run, force=force)
            undo_merge_batch(conn, batch, result, now or utcnow())
            if dry_run:
                trans.rollback()
            else:
                trans.commit()
        return result
    if dry_run:
        with store.connect() as conn:
            batch = _batch(conn, batch_id)
            return _Undo(conn, batch, force=force or _own(batch), dry_run=True).plan()
    with store.begin() as conn:
        batch = _batch(conn, batch_id)
        undo = _Undo(conn, batch, force=force or _own(batch), dry_run=False)
        result = undo.plan()
        undo.apply(now or utcnow())
    return result


def rollback_batch(store: Store, batch_id: int) -> UndoResult:
    """Take back everything a batch wrote, touched since or not (a failed import's own chunks)."""
    return undo_batch(store, batch_id, force=True)


def _own(batch: dict[str, Any]) -> bool:
    """Whether this process is running the batch: a failed import taking back its own chunks,
    which nothing else has had the time to build on (and which may predate recorded `after` values)."""
    opts = batch.get("options") or {}
    return batch["status"] == "running" and opts.get("pid") == os.getpid() \
        and opts.get("host") == socket.gethostname()


def _batch(conn, batch_id: int) -> dict[str, Any]:
    row = conn.execute(select(B).where(B.c.id == batch_id)).first()
    if row is None:
        raise NotFoundError(f"no batch {batch_id}", hint="`leadctl batches` lists them")
    batch = dict(row._mapping)
    if batch["status"] == "undone":
        raise LeadctlError(f"batch {batch_id} was already undone; there is nothing left to revert",
                           hint=f"`leadctl batches show {batch_id}` shows what its undo did")
    if batch["status"] == "running" and _running_elsewhere(batch):
        pid = (batch.get("options") or {}).get("pid")
        raise LeadctlError(f"batch {batch_id} is still being imported (process {pid})",
                           hint="wait for it to finish, then undo it")
    return batch


class _Undo:
    """Plans an undo from what the batch recorded and what the store holds now, then applies it."""

    def __init__(self, conn, batch: dict[str, Any], *, force: bool, dry_run: bool):
        self.conn = conn
        self.batch = batch
        self.id = batch["id"]
        self.result = UndoResult(batch=self.id, kind=batch.get("kind") or "leads", dry_run=dry_run, force=force)
        self.current: dict[int, dict[str, Any]] = {}   # lead id → its row now
        self.state: dict[int, dict[str, Any]] = {}     # lead id → its values after the undo
        self.conflicts: dict[tuple[int, str], Conflict] = {}
        self.reopen: list[int] = []
        self.stage_restored: set[int] = set()
        self.activity_leads: set[int] = set()
        # Batches that may have written after this one: later ones, and earlier ones still
        # running when it started (imports interleave chunks). batch_changes is indexed by batch.
        started = batch["started_at"]
        overlap = conn.execute(select(B.c.id).where(
            B.c.id < self.id, B.c.status != "undone",
            or_(B.c.finished_at.is_(None), B.c.finished_at >= started))).scalars().all()
        self.since = or_(BC.c.batch_id > self.id, BC.c.batch_id.in_(overlap)) if overlap else BC.c.batch_id > self.id

    # -- planning ------------------------------------------------------------
    def plan(self) -> UndoResult:
        r = self.result
        created = self.conn.execute(select(LEADS.c.id).where(LEADS.c.batch_id == self.id)
                                    .order_by(LEADS.c.id)).scalars().all()
        touched = self._touches(created)
        labels = self._labels(list(touched))
        for lid in created:
            if lid in touched:
                kept = KeptLead(lid, labels.get(lid, f"lead {lid}"), touched[lid])
                (r.forced if r.force else r.kept).append(kept)
                if not r.force:
                    continue
            r.deleted.append(lid)
        self.created = set(created)
        self.gone = set(r.deleted)
        self._plan_changes()
        self._plan_activities()
        self._plan_activity_times()
        self._finish()
        return r

    def _touches(self, lead_ids: Sequence[int]) -> dict[int, list[str]]:
        """Leads touched by anything but this batch (and the rules it set off), with what touched them."""
        why: dict[int, list[str]] = defaultdict(list)
        for part in in_parts(lead_ids, _PART):
            for lid, batch in self.conn.execute(
                    select(BC.c.lead_id, BC.c.batch_id).join(B, B.c.id == BC.c.batch_id)
                    .where(self.since, BC.c.lead_id.in_(part), B.c.status != "undone")
                    .distinct().order_by(BC.c.lead_id, BC.c.batch_id)):
                why[lid].append(f"changed by batch {batch}")
            for lid, batch, kind, n in self.conn.execute(
                    select(ACTS.c.lead_id, ACTS.c.batch_id, ACTS.c.type, func.count())
                    .where(ACTS.c.lead_id.in_(part), or_(ACTS.c.batch_id.is_(None), ACTS.c.batch_id != self.id))
                    .group_by(ACTS.c.lead_id, ACTS.c.batch_id, ACTS.c.type)
                    .order_by(ACTS.c.lead_id, ACTS.c.batch_id, ACTS.c.type)):
                how = "logged" if batch is None else f"imported by batch {batch}"
                why[lid].append(f"{_n(n, kind + ' activity', kind + ' activities')} {how}")
            for lid, cause, to_stage, detail in self.conn.execute(
                    select(HISTORY.c.lead_id, HISTORY.c.cause, HISTORY.c.to_stage, HISTORY.c.detail)
                    .where(HISTORY.c.lead_id.in_(part), HISTORY.c.cause.in_(("manual", "merge")))
                    .order_by(HISTORY.c.lead_id, HISTORY.c.at, HISTORY.c.id)):
                why[lid].append(f"moved to {to_stage} by hand" if cause == "manual" else (detail or "merged"))
            for lid, owner in self.conn.execute(
                    select(ASSIGNMENTS.c.lead_id, ASSIGNMENTS.c.owner)
                    .where(ASSIGNMENTS.c.lead_id.in_(part), ASSIGNMENTS.c.manual.is_(True))
                    .order_by(ASSIGNMENTS.c.lead_id, ASSIGNMENTS.c.at, ASSIGNMENTS.c.id)):
                why[lid].append(f"assigned to {owner} by hand")
            for lid, action, n in self.conn.execute(
                    select(TASKS.c.lead_id, TASKS.c.action, func.count())
                    .where(TASKS.c.lead_id.in_(part), TASKS.c.status == "done")
                    .group_by(TASKS.c.lead_id, TASKS.c.action).order_by(TASKS.c.lead_id, TASKS.c.action)):
                why[lid].append(f"{_n(n, action + ' follow-up')} done")
            for (lid,) in self.conn.execute(select(LEADS.c.id).where(LEADS.c.id.in_(part),
                                                                     LEADS.c.erased_at.is_not(None))):
                why[lid].append("personal data erased")
        return dict(why)

    def _labels(self, lead_ids: list[int]) -> dict[int, str]:
        out = {}
        for part in in_parts(lead_ids, _PART):
            for lid, email, first, last, company in self.conn.execute(
                    select(LEADS.c.id, LEADS.c.email, LEADS.c.first_name, LEADS.c.last_name, LEADS.c.company)
                    .where(LEADS.c.id.in_(part))):
                name = " ".join(x for x in (first, last) if x)
                out[lid] = email or name or company or f"lead {lid}"
        return out

    def _load(self, lead_ids: Iterable[int]) -> None:
        wanted = sorted(set(lead_ids) - set(self.current))
        for part in in_parts(wanted, _PART):
            for row in self.conn.execute(select(LEADS).where(LEADS.c.id.in_(part))):
                self.current[row.id] = dict(row._mapping)
                self.state[row.id] = dict(row._mapping)

    def _plan_changes(self) -> None:
        """Walk the batch's recorded changes newest first, restoring what still holds what it wrote."""
        rows = self.conn.execute(select(BC.c.id, BC.c.lead_id, BC.c.action, BC.c.before, BC.c.after)
                                 .where(BC.c.batch_id == self.id).order_by(BC.c.id.desc())).all()
        rows = [r for r in rows if r.lead_id not in self.created]  # a lead it created is kept or deleted whole
        self._load(r.lead_id for r in rows if r.action == "updated")
        tasks: dict[int, tuple[int, Any]] = {}
        for _id, lid, action, before, after in rows:
            if action == "completed":
                if before and after and isinstance(before.get("task"), int):
                    tasks[before["task"]] = (lid, after.get("completed_at"))
                continue
            if action != "updated" or lid not in self.state or not before:
                continue  # the lead is gone (merged away) or its values were erased
            state = self.state[lid]
            for name, old in before.items():
                if name not in LEADS.c:
                    continue
                wrote = (after or {}).get(name, _MISSING)
                if wrote is _MISSING and not self.result.force:
                    self._conflict(lid, name, "the batch did not record what it wrote (made by an older "
                                              "leadctl); --force restores it")
                elif wrote is _MISSING or _same(state.get(name), wrote):
                    state[name] = _from_json(name, old)
                else:
                    self._conflict(lid, name, None)
        self._plan_tasks(tasks)

    def _plan_tasks(self, tasks: dict[int, tuple[int, Any]]) -> None:
        """Follow-up tasks the batch's activities completed open again, unless changed since."""
        ids = sorted(tasks)
        for part in in_parts(ids, _PART):
            for tid, lid, status, completed in self.conn.execute(
                    select(TASKS.c.id, TASKS.c.lead_id, TASKS.c.status, TASKS.c.completed_at)
                    .where(TASKS.c.id.in_(part))):
                if lid in self.gone:
                    continue
                if status == "done" and _same(completed, tasks[tid][1]):
                    self.reopen.append(tid)
                    self.result.affected.add(lid)
                else:
                    self.conflicts[(lid, f"task {tid}")] = Conflict(lid, f"task {tid}", status,
                                                                    f"the follow-up was {status} since")

    def _plan_activities(self) -> None:
        for lid, n in self.conn.execute(select(ACTS.c.lead_id, func.count()).where(ACTS.c.batch_id == self.id)
                                        .group_by(ACTS.c.lead_id)):
            if lid in self.gone:
                continue
            self.result.activities_deleted += n
            self.result.activities[lid] = n
            self.activity_leads.add(lid)

    def _plan_activity_times(self) -> None:
        """last_activity_at / last_contacted_at are never older than the activities that remain."""
        from ..engine.contact import CONTACT_TYPES

        leads = sorted(self.activity_leads)
        self._load(leads)
        legacy = not (self.batch.get("options") or {}).get("undo")
        for part in in_parts(leads, _PART):
            remaining: dict[str, dict[int, datetime]] = {"last_activity_at": {}, "last_contacted_at": {}}
            theirs: dict[str, dict[int, datetime]] = {"last_activity_at": {}, "last_contacted_at": {}}
            for lid, kind, at, batch in self.conn.execute(
                    select(ACTS.c.lead_id, ACTS.c.type, func.max(ACTS.c.at), ACTS.c.batch_id)
                    .where(ACTS.c.lead_id.in_(part)).group_by(ACTS.c.lead_id, ACTS.c.type, ACTS.c.batch_id)):
                into = theirs if batch == self.id else remaining
                for col in _ACTIVITY_TIMES:
                    if col == "last_contacted_at" and kind not in CONTACT_TYPES:
                        continue
                    if at > into[col].get(lid, datetime.min):
                        into[col][lid] = at
            for lid in part:
                state = self.state.get(lid)
                if state is None:
                    continue
                for col in _ACTIVITY_TIMES:
                    value, floor = state.get(col), remaining[col].get(lid)
                    if legacy and lid in theirs[col] and value == theirs[col][lid] and floor is not None:
                        # Made before batches recorded what they wrote: the newest activity left decides.
                        state[col] = value = floor
                    if floor is not None and (value is None or value < floor):
                        state[col] = floor

    def _conflict(self, lead_id: int, name: str, reason: str | None) -> None:
        shown = _FOLLOWS.get(name, name)
        if (lead_id, shown) not in self.conflicts:
            self.conflicts[(lead_id, shown)] = Conflict(lead_id, shown, self.current[lead_id].get(shown), reason or "")

    def _finish(self) -> None:
        r = self.result
        for lid in sorted(self.state):
            before, after = self.current[lid], self.state[lid]
            for name in after:
                if not _same(after[name], _plain(before.get(name))):
                    r.restored.append(FieldChange(lid, name, before.get(name), after[name]))
                    r.affected.add(lid)
                    if name == "stage":
                        self.stage_restored.add(lid)
        r.affected |= self.activity_leads
        self._reasons([c for c in self.conflicts.values() if not c.reason])
        r.conflicts = sorted(self.conflicts.values(), key=lambda c: (c.lead_id, c.field))
        r.tasks_reopened = sorted(self.reopen)

    def _reasons(self, conflicts: list[Conflict]) -> None:
        """Say what changed each conflicting value since: a later batch, a person, a rule, an activity."""
        leads = sorted({c.lead_id for c in conflicts})
        later: dict[int, list[tuple[int, set[str]]]] = defaultdict(list)
        stage: dict[int, tuple[str, Any]] = {}
        owner: dict[int, tuple[str | None, bool]] = {}
        for part in in_parts(leads, _PART):
            for lid, batch, after, before in self.conn.execute(
                    select(BC.c.lead_id, BC.c.batch_id, BC.c.after, BC.c.before).join(B, B.c.id == BC.c.batch_id)
                    .where(self.since, BC.c.lead_id.in_(part), B.c.status != "undone").order_by(BC.c.id)):
                later[lid].append((batch, set(after or before or ())))
            for lid, cause, batch in self.conn.execute(
                    select(HISTORY.c.lead_id, HISTORY.c.cause, HISTORY.c.batch_id)
                    .where(HISTORY.c.lead_id.in_(part)).order_by(HISTORY.c.lead_id, HISTORY.c.at, HISTORY.c.id)):
                stage[lid] = (cause, batch)
            for lid, who, manual in self.conn.execute(
                    select(ASSIGNMENTS.c.lead_id, ASSIGNMENTS.c.owner, ASSIGNMENTS.c.manual)
                    .where(ASSIGNMENTS.c.lead_id.in_(part))
                    .order_by(ASSIGNMENTS.c.lead_id, ASSIGNMENTS.c.at, ASSIGNMENTS.c.id)):
                owner[lid] = (who, bool(manual))
        for c in conflicts:
            reason = ""
            if c.field == "stage" and c.lead_id in stage:
                cause, batch = stage[c.lead_id]
                reason = {"manual": "moved by hand", "rule": "moved by a rule", "merge": "changed by a merge",
                          "import": f"set by batch {batch}"}.get(cause, "")
            elif c.field in ("owner", "team") and c.lead_id in owner:
                who, manual = owner[c.lead_id]
                reason = "assigned by hand" if manual else "assigned by the routing rules"
            if not reason:
                batches = [b for b, names in later.get(c.lead_id, ()) if c.field in names]
                if batches:
                    reason = f"changed by batch {batches[-1]}"
            if not reason and c.field in _ACTIVITY_TIMES:
                reason = "a later activity"
            c.reason = reason or "changed since"

    # -- applying --------------------------------------------------------------
    def apply(self, now: datetime) -> None:
        conn, r = self.conn, self.result
        for part in in_parts(r.deleted, _PART):
            # Its history, activities, tasks, identifiers … go with it (ON DELETE CASCADE).
            conn.execute(delete(LEADS).where(LEADS.c.id.in_(part)))
        conn.execute(delete(ACTS).where(ACTS.c.batch_id == self.id))
        values: dict[int, dict[str, Any]] = defaultdict(dict)
        for c in r.restored:
            values[c.lead_id][c.field] = c.restored
        for lid, v in values.items():
            conn.execute(LEADS.update().where(LEADS.c.id == lid).values(**v, updated_at=now))
        for part in in_parts(r.tasks_reopened, _PART):
            conn.execute(TASKS.update().where(TASKS.c.id.in_(part), TASKS.c.status == "done")
                         .values(status="pending", completed_at=None))
        # The batch's stage moves go where its stage was put back; where a later move was kept,
        # so is the move the batch made before it.
        moved = sorted(self.stage_restored)
        for part in in_parts(moved, _PART):
            conn.execute(delete(HISTORY).where(HISTORY.c.batch_id == self.id, HISTORY.c.lead_id.in_(part)))
        relink_stage_history(conn, moved)
        kept = [k.lead_id for k in r.kept]
        # The ids the batch brought go; a value it replaced (a former phone) keeps finding the lead.
        ident = and_(IDENTIFIERS.c.batch_id == self.id, IDENTIFIERS.c.kind.in_(("external_id", "placeholder")))
        if kept:
            ident = and_(ident, IDENTIFIERS.c.lead_id.not_in(kept))
        conn.execute(delete(IDENTIFIERS).where(ident))
        conn.execute(delete(DUPLICATES).where(DUPLICATES.c.batch_id == self.id))
        # The batch's rows count as not imported any more: importing its file again applies them.
        conn.execute(delete(ROWS).where(ROWS.c.batch_id == self.id))
        conn.execute(B.update().where(B.c.id == self.id).values(status="undone", message="undo: " + r.describe()))




def _same(value: Any, recorded: Any) -> bool:
    """A lead's value equals one recorded as JSON (datetimes as ISO text)."""
    return _plain(value) == _plain(recorded)


def _from_json(key: str, value: Any) -> Any:
    if key in _DATETIME_FIELDS and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value
