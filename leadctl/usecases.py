"""Use cases: one command's work from start to end, each owning its transactions.

    done = import_leads_and_process(store, ["leads.csv"], ImportOptions(), rules, now=now)
    done.result.created, done.processed.summary()

The CLI parses options, calls one of these with the Store (and the RuleSet) and
renders what comes back; nothing here prints. "Then process" is decided here, once:
the leads an import, a logged activity or an undo touched are scored, qualified,
routed and given their follow-ups by the same call, unless the caller says not to.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from .engine.due import DueTask
from .engine.followups import TaskChange, complete_task, due_tasks, snooze_task
from .engine.leadref import resolve_lead
from .engine.owners import OwnerStatus, list_owners
from .engine.process import ProcessResult, process_leads
from .ingest.activities import (
    ActivityImportResult,
    TypeCheck,
    activity_type,
    check_activity_types,
    import_activities,
    log_activity,
)
from .ingest.batches import UndoResult, undo_batch
from .ingest.importer import ImportOptions, ImportResult, import_leads
from .rules.loader import RuleSet
from .store.db import Store


def _process(store: Store, rules: RuleSet | None, lead_ids: Iterable[int], now: datetime) -> ProcessResult | None:
    """Process the leads a change touched (nothing when there are none or no rules to apply)."""
    if rules is None or not lead_ids:
        return None
    return process_leads(store, rules, now=now, lead_ids=lead_ids)


# ---------------------------------------------------------------- imports
@dataclass
class LeadImport:
    """What an import did, and what processing its leads did (None: not processed)."""

    result: ImportResult
    processed: ProcessResult | None


def import_leads_and_process(store: Store, files: list[str], opts: ImportOptions, rules: RuleSet, *,
                             now: datetime, process: bool = True,
                             progress: Callable[[int], Any] | None = None) -> LeadImport:
    """Import lead files as one batch, then process the leads it created or changed (not on a dry run)."""
    process = process and not opts.dry_run
    opts.collect_ids = process  # without processing, the importer need not keep every id
    # the leads it creates or changes get their flags as they are written (quality.flags.fold_flags)
    result = import_leads(store, files, opts, rules, now=now, progress=progress)
    return LeadImport(result, _process(store, rules if process else None, result.lead_ids, now))


@dataclass
class ActivityImport:
    """What an activity import did, and what processing its leads did (None: not processed)."""

    result: ActivityImportResult
    processed: ProcessResult | None


def import_activities_and_process(store: Store, path: str, rules: RuleSet, *, now: datetime, process: bool = True,
                                  mapping: str | None = None, rejects: str | None = None, fmt: str | None = None,
                                  default_region: str | None = None, dry_run: bool = False) -> ActivityImport:
    """Import an events file as one batch, then process the leads whose activities it stored."""
    result = import_activities(store, path, now=now, mapping=mapping, rejects=rejects, fmt=fmt,
                               default_region=default_region, dry_run=dry_run, rules=rules)
    process = process and not dry_run
    return ActivityImport(result, _process(store, rules if process else None, result.lead_ids, now))


# ---------------------------------------------------------------- one activity
@dataclass
class LoggedActivity:
    """The activity logged, its lead, what the rules and store know of its type, and the processing."""

    activity_id: int
    lead_id: int
    types: TypeCheck
    processed: ProcessResult | None


def log_activity_and_process(store: Store, lead: str | int, type_: str, *, rules: RuleSet | None, now: datetime,
                             at: datetime | None = None, note: str | None = None,
                             fields: dict[str, Any] | None = None, touch_source: str | None = None,
                             campaign: str | None = None) -> LoggedActivity:
    """Log one activity for the lead `lead` names (at `now` unless `at`), then process that lead.

    Without `rules` the lead is not processed and the type is checked against the built-in
    contact and follow-up types and the store only.
    """
    kind = activity_type(type_)
    with store.connect() as conn:
        lead_id = resolve_lead(conn, lead)
        check = check_activity_types(conn, rules, {kind: 1})
    aid = log_activity(store, lead_id, kind, at=at or now, note=note, fields=fields, touch_source=touch_source,
                       campaign=campaign)
    return LoggedActivity(aid, lead_id, check, _process(store, rules, {lead_id}, now))


# ---------------------------------------------------------------- undo
def undo_and_process(store: Store, batch_id: int, *, rules: RuleSet | None, now: datetime,
                     force: bool = False) -> UndoResult:
    """Undo a batch, then process the leads whose values it put back (scores follow the values);
    without `rules`, only undo."""
    result = undo_batch(store, batch_id, force=force, now=now)
    if result.affected:  # an e-mail or phone put back gets its flags back too
        from .quality.flags import refresh_flags

        with store.begin() as conn:
            refresh_flags(conn, lead_ids=result.affected)
    _process(store, rules, set(result.affected), now)
    return result


# ---------------------------------------------------------------- follow-ups and owners
def due_followups(store: Store, rules: RuleSet, now: datetime, *, owner: str | None = None,
                  until: datetime | None = None, overdue: bool = False, limit: int | None = None,
                  segment: str | None = None) -> list[DueTask]:
    """Open tasks due by `until` (default `now`), earliest first (see engine.followups.due_tasks)."""
    with store.connect() as conn:
        return due_tasks(conn, rules, now, owner=owner, until=until, overdue=overdue, limit=limit, segment=segment)


def complete_followup(store: Store, task_id: int, now: datetime, note: str | None = None) -> TaskChange:
    """Mark a pending task done, in one transaction."""
    with store.begin() as conn:
        return complete_task(conn, task_id, now, note)


def snooze_followup(store: Store, rules: RuleSet, task_id: int, duration: str | timedelta,
                    now: datetime) -> TaskChange:
    """Move a task's due time `duration` from now into its owner's business hours, in one transaction."""
    with store.begin() as conn:
        return snooze_task(conn, rules, task_id, duration, now)


def owners_status(store: Store, rules: RuleSet, now: datetime) -> list[OwnerStatus]:
    """Every owner of the rules with open leads, capacity and availability at `now`."""
    with store.connect() as conn:
        return list_owners(conn, rules, now)
