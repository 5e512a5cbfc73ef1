"""The cron sweep, `leadctl followups remind`: SLA check, inactivity tasks, one digest per owner.

    result = remind(store, rules, now, smtp=SmtpTarget.parse(url), webhook=None)
    if result.idle: ...            # nothing to say: cron stays quiet
    print(result.text(result.printed))     # the digests whose delivery is printing
    preview = remind(store, rules, now, dry_run=True)   # what would be sent; nothing sent or written

Delivery: without a transport, printing *is* the delivery (cron mails stdout), so every
printed digest is marked reminded. With `smtp` or `webhook` the digests go there, and
only those no transport could deliver (an owner without an e-mail address and no `to=`)
are left for printing. A dry run does the whole sweep inside a savepoint and rolls it
back: the SLA check, new inactivity tasks and the marks are all undone, nothing is sent.

Exactly once, overlap-safe: the whole sweep is one transaction that holds the
store's write lock from start to commit — SQLite `BEGIN IMMEDIATE` (what
`store.begin()` does) and, on PostgreSQL, `pg_advisory_xact_lock(REMIND_LOCK)`.
A second sweep started at the same moment waits for the first to commit and then
finds the tasks already reminded. Inside, the order is: lock → SLA check → inactivity
tasks → read what is due and not yet reminded → send → mark what was sent → commit.
A digest that fails to send leaves its tasks and breaches un-reminded (the next run
retries) and is reported in `failed`; a crash before the commit leaves everything
un-reminded. The lock is held through the sends, which is why SMTP and the webhook
have timeouts (20 s by default) well under the 30 s busy timeout of a waiting sweep.

Digests go to the lead's current owner (tasks follow a reassigned lead). With a
webhook, one JSON document with every digest is POSTed first; if it fails nothing
is sent by e-mail either. With SMTP, each owner gets one e-mail; owners without an
address (and the "(unassigned)" digest) go to the URL's `to=` fallback, or are only
printed, with a warning.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import and_, func, or_, select, text, union

from ..notify import NotifyError, mask_url, post_json, send_mail
from ..store import dirty
from ..store.db import get_meta, serialise, set_meta
from ..store.models import Activity, Followup, Lead, Owner, SlaBreach
from .bizhours import Calendars, owner_zones
from .consent import allowed_sql
from .due import DueTask, lead_label, overdue_text
from .followups import INACTIVITY, PENDING, create_inactivity_tasks
from .sla import check_sla
from .sweepscan import clock_thresholds, sweep_digest

if TYPE_CHECKING:
    from ..rules.loader import RuleSet

FOLLOWUPS = Followup.__table__
LEADS = Lead.__table__
BREACHES = SlaBreach.__table__
OWNERS = Owner.__table__
ACTIVITIES = Activity.__table__

REMIND_LOCK = 0x6C656164  # "lead": the PostgreSQL advisory lock key of the sweep
SWEPT = "remind.swept"    # meta: what the last sweep saw, for the next one's incremental scan
RUN_KEY = "process.run"   # meta: the number of the last `process` run that started (engine.process)
DONE_KEY = "process.done"  # meta: ... and of the last one that finished
UNASSIGNED = "(unassigned)"


@dataclass
class TaskItem(DueTask):
    """A due task in an owner's digest."""

    def line(self) -> str:
        tag = f"overdue {self.overdue}" if self.overdue else "due now"
        where = (f"{self.cadence}, step {self.step}" if self.step is not None else self.cadence) if self.cadence else ""
        what = f" ({where})" if where else ""
        return f"- [{tag}] {self.action} {self.lead}{what} — due {self.due_local} (task {self.id})"

    def to_dict(self) -> dict:
        return {"task": self.id, "lead_id": self.lead_id, "lead": self.lead, "action": self.action, "kind": self.kind,
                "cadence": self.cadence, "step": self.step, "due_at": self.due_at.isoformat(timespec="seconds"),
                "due_local": self.due_local, "overdue": self.overdue or None, "note": self.note}


@dataclass
class BreachItem:
    id: int
    lead_id: int
    lead: str
    rule: str
    due_at: datetime
    due_local: str
    late: str

    def line(self) -> str:
        return (f"- [SLA missed {self.late}] {self.lead}: {self.rule} — was due {self.due_local} "
                f"(lead {self.lead_id})")

    def to_dict(self) -> dict:
        return {"breach": self.id, "lead_id": self.lead_id, "lead": self.lead, "rule": self.rule,
                "due_at": self.due_at.isoformat(timespec="seconds"), "due_local": self.due_local,
                "late": self.late or None}


@dataclass
class Digest:
    """Everything one owner is reminded of in one sweep."""

    owner: str | None
    email: str | None
    tasks: list[TaskItem] = field(default_factory=list)
    breaches: list[BreachItem] = field(default_factory=list)
    via: str = "printed"        # how it is (or, in a dry run, would be) delivered, for people to read

    @property
    def name(self) -> str:
        return self.owner or UNASSIGNED

    def subject(self) -> str:
        parts = []
        if self.tasks or not self.breaches:
            n = len(self.tasks)
            parts.append(f"{n} follow-up{'' if n == 1 else 's'} due")
        if self.breaches:
            n = len(self.breaches)
            parts.append(f"{n} SLA breach{'' if n == 1 else 'es'}")
        return f"leadctl: {' and '.join(parts)} for {self.name}"

    def text(self) -> str:
        return "\n".join([self.subject(), *(t.line() for t in self.tasks), *(b.line() for b in self.breaches)])

    def to_dict(self) -> dict:
        return {"owner": self.owner, "email": self.email, "tasks": [t.to_dict() for t in self.tasks],
                "sla_breaches": [b.to_dict() for b in self.breaches]}


@dataclass
class RemindResult:
    now: datetime
    sent: list[Digest] = field(default_factory=list)         # reminded (and committed); in a dry run: would be
    printed: list[Digest] = field(default_factory=list)      # of those, the ones whose delivery is printing
    failed: list[tuple[str, str]] = field(default_factory=list)   # (owner, masked error)
    warnings: list[str] = field(default_factory=list)
    inactivity_created: int = 0
    sla: Any = None
    dry_run: bool = False

    @property
    def idle(self) -> bool:
        return not self.sent and not self.failed

    @property
    def reminded(self) -> int:
        return sum(len(d.tasks) for d in self.sent)

    @property
    def breaches(self) -> int:
        return sum(len(d.breaches) for d in self.sent)

    def text(self, digests: list[Digest] | None = None) -> str:
        """The plain-text digests (default: all sent), one block per owner, blank line between."""
        digests = self.sent if digests is None else digests
        return "\n\n".join(d.text() for d in digests) + ("\n" if digests else "")

    def document(self) -> dict:
        return {"source": "leadctl", "at": self.now.isoformat(timespec="seconds"),
                "digests": [d.to_dict() for d in self.sent]}

    def to_dict(self) -> dict:
        """One JSON document, the same keys whether or not anything was due."""
        doc = self.document()
        doc["reminded"] = self.reminded
        doc["failed"] = [{"owner": o, "error": e} for o, e in self.failed]
        doc["dry_run"] = self.dry_run
        return doc


def _run_sla(conn, rules: RuleSet, now, cals: Calendars):
    if not getattr(getattr(rules, "routing", None), "sla", ()):
        return None
    return check_sla(conn, rules, now, calendars=cals)


def _emails(conn, rules: RuleSet) -> dict[str, str]:
    out: dict[str, str] = {}
    for o in getattr(getattr(rules, "routing", None), "owners", ()) or ():
        if o.email:
            out[o.name.casefold()] = o.email
    for name, email in conn.execute(select(OWNERS.c.name, OWNERS.c.email)):
        if email:
            out[name.casefold()] = email
    return out


def collect(conn, rules: RuleSet, now: datetime, cals: Calendars) -> list[Digest]:
    """The digests due at `now`: pending tasks due and not reminded, `notify` breaches not notified."""
    owner_col = func.coalesce(LEADS.c.owner, FOLLOWUPS.c.owner).label("cur_owner")
    q = (select(FOLLOWUPS.c.id, FOLLOWUPS.c.lead_id, FOLLOWUPS.c.action, FOLLOWUPS.c.kind, FOLLOWUPS.c.cadence,
                FOLLOWUPS.c.step, FOLLOWUPS.c.due_at, FOLLOWUPS.c.note, owner_col,
                LEADS.c.first_name, LEADS.c.last_name, LEADS.c.email, LEADS.c.company)
         .select_from(FOLLOWUPS.outerjoin(LEADS, LEADS.c.id == FOLLOWUPS.c.lead_id))
         .where(FOLLOWUPS.c.status == PENDING, FOLLOWUPS.c.reminded_at.is_(None), FOLLOWUPS.c.due_at <= now,
                text(allowed_sql(FOLLOWUPS.name, LEADS.name)))  # never a channel the lead does not allow
         .order_by(FOLLOWUPS.c.due_at, FOLLOWUPS.c.id))
    digests: dict[str | None, Digest] = {}
    emails = _emails(conn, rules)

    def digest(owner):
        key = owner or None
        if key not in digests:
            digests[key] = Digest(key, emails.get(key.casefold()) if key else None)
        return digests[key]

    for r in conn.execute(q):
        cal = cals.for_owner(r.cur_owner)
        digest(r.cur_owner).tasks.append(TaskItem(
            r.id, r.lead_id, lead_label(r.first_name, r.last_name, r.email, r.company, r.lead_id), r.cur_owner,
            r.action, r.kind, r.cadence, r.step, r.due_at, cal.local_text(r.due_at), overdue_text(r.due_at, now),
            r.note))
    bq = (select(BREACHES.c.id, BREACHES.c.lead_id, BREACHES.c.rule, BREACHES.c.due_at,
                 func.coalesce(LEADS.c.owner, BREACHES.c.owner).label("cur_owner"),
                 LEADS.c.first_name, LEADS.c.last_name, LEADS.c.email, LEADS.c.company)
          .select_from(BREACHES.outerjoin(LEADS, LEADS.c.id == BREACHES.c.lead_id))
          .where(BREACHES.c.action == "notify", BREACHES.c.notified_at.is_(None))
          .order_by(BREACHES.c.due_at, BREACHES.c.id))
    for r in conn.execute(bq):
        cal = cals.for_owner(r.cur_owner)
        digest(r.cur_owner).breaches.append(BreachItem(
            r.id, r.lead_id, lead_label(r.first_name, r.last_name, r.email, r.company, r.lead_id), r.rule,
            r.due_at, cal.local_text(r.due_at), overdue_text(r.due_at, now)))
    # Named owners alphabetically, the unassigned digest last.
    return sorted(digests.values(), key=lambda d: (d.owner is None, (d.owner or "").casefold()))


def _plan(digests: list[Digest], smtp, webhook: str | None) -> None:
    """Say on each digest how it goes out: webhook, e-mail (to whom) or printed."""
    for d in digests:
        ways = [f"webhook {mask_url(webhook)}"] if webhook else []
        if smtp is not None:
            to = d.email or smtp.fallback_to
            if to:
                ways.append(f"e-mail to {to}")
        d.via = " and ".join(ways) if ways else "printed"


# ---------------------------------------------------------------- the incremental inactivity scan
#
# A lead an inactivity rule did not take at the last sweep can be taken now only if (a) its row
# was written since (leads.processed: NULL or a newer `process` run than the sweep saw — the
# trigger of store/dirty.py clears it on any write but `process`'s own stamp), (b) an activity was
# logged for it since, (c) one of its inactivity tasks was closed since (it may have lost its
# cover), or (d) time alone made the rule hold: a top-level `days_since_*: {gte|gt: N}` or
# `<date column>: {older_than: D}` crossed its threshold between the two sweeps. A rule whose
# `when` reads the clock any other way (within, older_than under any/not, activity or attribute
# dates), other rules, another clock (earlier than the last sweep), no record or no trigger:
# every lead is looked at, as before.

def time_windows(spec: Any, prev: datetime, now: datetime) -> list | None:
    """SQL conditions, one per top-level clock threshold of `spec`, that hold for a lead whose
    threshold was crossed between `prev` and `now`; None when time can make `spec` hold some other way."""
    thresholds = clock_thresholds(spec)
    if thresholds is None:
        return None
    return [and_(LEADS.c[col] >= prev - age, LEADS.c[col] <= now - age) for col, age in thresholds]


def _state(conn) -> dict:
    """The newest `process` stamp that cannot change any more and the newest activity, as of now."""
    started, done = (get_meta(conn, k) for k in (RUN_KEY, DONE_KEY))
    # A run that started and has not finished (or never will) may still stamp leads with its
    # number after this sweep: trust stamps only up to the last finished run.
    run = int(done) if done and done.isdigit() else 0
    if started and started.isdigit() and int(started) < run:
        run = int(started)
    last_act = conn.execute(select(func.max(ACTIVITIES.c.id))).scalar()
    return {"run": run, "activity": int(last_act or 0)}


def _narrowing(conn, rules: RuleSet, now: datetime) -> Callable[[Any], list | None] | None:
    """`narrow` for create_inactivity_tasks from the last sweep's record; None: scan every lead."""
    raw = get_meta(conn, SWEPT)
    try:
        last = json.loads(raw) if raw else {}
        prev = datetime.fromisoformat(last["at"])
        run, activity = int(last["run"]), int(last["activity"])
    except (ValueError, TypeError, KeyError):
        return None
    if last.get("digest") != sweep_digest(rules) or now < prev or not dirty.installed(conn):
        return None
    # One id list from indexed lookups (a UNION), so the database starts from these few leads
    # rather than from the rule's prefilter over every lead of its stages.
    since = [select(LEADS.c.id).where(LEADS.c.processed.is_(None)),
             select(LEADS.c.id).where(LEADS.c.processed > run),
             select(ACTIVITIES.c.lead_id).where(ACTIVITIES.c.id > activity),
             select(FOLLOWUPS.c.lead_id).where(FOLLOWUPS.c.status != PENDING, FOLLOWUPS.c.completed_at >= prev,
                                               FOLLOWUPS.c.kind == INACTIVITY)]

    def narrow(rule) -> list | None:
        windows = time_windows(rule.when.source, prev, now)
        if windows is None:
            return None
        return [LEADS.c.id.in_(union(*since, *(select(LEADS.c.id).where(w) for w in windows)))]

    return narrow


def _record_sweep(conn, rules: RuleSet, now: datetime) -> None:
    set_meta(conn, SWEPT, json.dumps({"at": now.isoformat(), "digest": sweep_digest(rules), **_state(conn)}))


def remind(store, rules: RuleSet, now: datetime, *, smtp=None, webhook: str | None = None,
           dry_run: bool = False) -> RemindResult:
    """Run one sweep (see the module docstring). `smtp` is a `notify.SmtpTarget` or None."""
    result = RemindResult(now, dry_run=dry_run)
    with store.begin() as conn:
        serialise(conn, REMIND_LOCK)
        # A dry run does every step for real, then rolls them back: it shows exactly what a run would do.
        trial = conn.begin_nested() if dry_run else None
        try:
            cals = Calendars(rules.followups.business_hours, owner_zones(conn, rules))
            result.sla = _run_sla(conn, rules, now, cals)
            result.inactivity_created = create_inactivity_tasks(conn, rules, now, cals,
                                                                narrow=_narrowing(conn, rules, now))
            _record_sweep(conn, rules, now)
            digests = collect(conn, rules, now, cals)
            _plan(digests, smtp, webhook)
            if dry_run or not digests:
                result.sent = digests
                result.printed = [d for d in digests if d.via == "printed"]
                return result
        finally:
            if trial is not None:
                trial.rollback()
        ok = list(digests)
        if webhook:
            try:
                post_json(webhook, {"source": "leadctl", "at": now.isoformat(timespec="seconds"),
                                    "digests": [d.to_dict() for d in digests]})
            except NotifyError as exc:
                result.failed.extend((d.name, exc.message) for d in digests)
                ok = []
        if smtp is not None and ok:
            sent = []
            for d in ok:
                to = d.email or smtp.fallback_to
                if not to:
                    if not webhook:
                        result.warnings.append(f"no e-mail address for {d.name}; its digest is only printed")
                    sent.append(d)
                    continue
                try:
                    send_mail(smtp, to, d.subject(), d.text() + "\n\n-- \nSent by `leadctl followups remind`.\n")
                except NotifyError as exc:
                    result.failed.append((d.name, exc.message))
                    continue
                sent.append(d)
            ok = sent
        _mark(conn, ok, now)
        result.sent = ok
        result.printed = [d for d in ok if d.via == "printed"]
    return result


def _mark(conn, digests: list[Digest], now: datetime) -> None:
    """Mark what was sent; `reminded_at IS NULL` in the WHERE keeps it exactly once."""
    tids = [t.id for d in digests for t in d.tasks]
    bids = [b.id for d in digests for b in d.breaches]
    owner_of = {t.id: d.owner for d in digests for t in d.tasks}
    for i in range(0, len(tids), 500):
        part = tids[i:i + 500]
        conn.execute(FOLLOWUPS.update().where(FOLLOWUPS.c.id.in_(part), FOLLOWUPS.c.reminded_at.is_(None))
                     .values(reminded_at=now))
    # Tasks follow their lead's owner: keep the task's owner in step with whom it was sent to.
    by_owner: dict[str | None, list[int]] = defaultdict(list)
    for tid, owner in owner_of.items():
        by_owner[owner].append(tid)
    for owner, ids in by_owner.items():
        for i in range(0, len(ids), 500):
            conn.execute(FOLLOWUPS.update().where(FOLLOWUPS.c.id.in_(ids[i:i + 500]),
                                                  or_(FOLLOWUPS.c.owner.is_(None), FOLLOWUPS.c.owner != owner)
                                                  if owner is not None else FOLLOWUPS.c.owner.isnot(None))
                         .values(owner=owner))
    for i in range(0, len(bids), 500):
        conn.execute(BREACHES.update().where(BREACHES.c.id.in_(bids[i:i + 500]), BREACHES.c.notified_at.is_(None))
                     .values(notified_at=now))


__all__ = ["remind", "collect", "Digest", "TaskItem", "BreachItem", "RemindResult", "REMIND_LOCK", "UNASSIGNED"]
