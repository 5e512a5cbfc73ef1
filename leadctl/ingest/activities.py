"""Activity import and logging: what leads did (page views, demo requests, calls …).

Every activity moves the lead's `last_activity_at` forward; a contact made by the
team (`call`, `email_sent`, `meeting` … see CONTACT_TYPES) moves `last_contacted_at`
too and completes the lead's due follow-up of that action. An import is a batch of
kind `activities` (ingest/batches.py): it records, per lead, the times it moved and
the tasks it completed (`batch_changes`), so `batches undo` can put them back.

Files are read by ingest/reader.py and mapped like lead files (ingest/headers.py):
the lead's e-mail, phone and external id take the lead aliases of aliases.yaml, the
event's own columns (type, at, note, source) the aliases below, and a mapping file
may name any of them. Batches are stamped with the wall clock (`started_at`,
`finished_at`, as lead imports are); `now` (`--now`) is the logical time of the
events: the time of a row without one, and the limit for events in the future — one
dated more than a day after it did not happen yet and is refused (`FUTURE_GRACE`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, or_, select

from ..clock import parse_now
from ..engine.contact import CONTACT_TYPES
from ..engine.followups import ACTIVITY_ACTIONS, complete_matching_tasks
from ..errors import InputError, LeadctlError, UsageError
from ..rules.durations import parse_duration
from ..rules.loader import RuleSet
from ..setup import project_region
from ..store import IdSet
from ..store.db import Store
from ..store.tables import ACTIVITIES, BATCH_CHANGES, IDENTIFIERS, LEADS
from ..words import activity_key, snake_case
from . import normalize as N
from .batches import finish_batch, rollback_batch, start_batch
from .headers import ATTRIBUTES_PREFIX, MappingSpec, builtin_aliases, canonical_key, load_mapping
from .reader import BadRecord, read_records
from .rejects import RejectsWriter

CHUNK = 5000
# Clocks disagree and time zones confuse: an event up to a day ahead is taken, not one later.
FUTURE_GRACE = timedelta(days=1)

# What a column of an events file may fill (a mapping file's `columns:` may name these, or fields.<key>).
TARGETS: tuple[str, ...] = ("email", "phone", "external_id", "type", "at", "note", "source", "touch_source",
                             "campaign")
_LEAD_KEYS = ("email", "phone", "external_id")
# The event's own columns; the lead's keys take the lead aliases (aliases.yaml).
_EVENT_ALIASES = {
    "email": ("lead email",),  # an events file names the lead's e-mail so; a lead file never does
    "type": ("type", "activity", "activity type", "event", "event type", "action"),
    "at": ("at", "time", "timestamp", "date", "occurred at", "created at", "when"),
    "note": ("note", "notes", "comment", "description"),
    "source": ("source", "channel", "tool"),
    # The marketing touch the event was (report attribution): UTM parameters and their usual spellings.
    "touch_source": ("touch_source", "utm_source", "utm source", "touch source", "marketing source",
                     "traffic source"),
    "campaign": ("campaign", "utm_campaign", "utm campaign", "campaign name"),
}
FIELDS_PREFIX = "fields."



@lru_cache(maxsize=1)
def _alias_index() -> dict[str, str]:
    """Canonical header key → activity target: the lead aliases for the lead's keys, then the event's own."""
    index: dict[str, str] = {}
    lead = builtin_aliases()
    for target in _LEAD_KEYS:
        for header in (target, *lead.get(target, ())):
            index.setdefault(canonical_key(header), target)
    for target, headers in _EVENT_ALIASES.items():
        for header in headers:
            index.setdefault(canonical_key(header), target)
    return index


def parse_when(value: str, now: datetime) -> datetime:
    """When an activity happened: `2026-11-19T15:00`, `now`, `today`, `yesterday` (this time
    yesterday), `3h ago` or `2d ago` → naive UTC; refused more than a day after `now`."""
    text = value.strip().lower()
    relative = {"now": timedelta(0), "today": timedelta(0), "yesterday": timedelta(days=1)}
    when = None
    if text in relative:
        when = now - relative[text]
    elif (m := re.fullmatch(r"(.+?)\s*ago", text)) is not None:
        try:
            when = now - parse_duration(m.group(1).replace(" ", ""))
        except (LeadctlError, ValueError):
            when = None
    if when is None:
        try:
            when = parse_now(value)
        except UsageError:
            raise UsageError(f"cannot read '{value}' as a date and time",
                             hint="use ISO 8601 (2026-11-20T09:00, offsets allowed), now, yesterday or 3h ago") \
                from None
    future = check_not_future(when, now)
    if future:
        raise UsageError(future, hint="an activity is logged once it has happened")
    return when


def check_not_future(at: datetime, now: datetime) -> str | None:
    """Why an activity at `at` cannot have happened yet (None when it can)."""
    if at > now + FUTURE_GRACE:
        return (f"{at.isoformat(sep=' ', timespec='minutes')} is in the future "
                f"(more than a day after {now.isoformat(sep=' ', timespec='minutes')})")
    return None


def rule_activity_types(rules: RuleSet | None) -> set[str]:
    """Activity types the rules know: counted by scoring, named in conditions, done by follow-ups."""
    known = set(CONTACT_TYPES) | set(ACTIVITY_ACTIONS)
    actions: set[str] = set()
    if rules is None:
        return known

    def walk(obj, depth=0):
        if depth > 12 or obj is None or isinstance(obj, (str, bytes, int, float, bool)):
            return
        fields = getattr(obj, "fields", None)
        if isinstance(fields, frozenset):  # a compiled condition
            for name in fields:
                parts = str(name).split(".")
                if len(parts) == 3 and parts[0] == "activity" and parts[1]:
                    known.add(activity_key(parts[1]))
            return
        if isinstance(obj, dict):
            items = obj.values()
        elif isinstance(obj, (list, tuple, set, frozenset)):
            items = obj
        elif hasattr(type(obj), "model_fields"):
            for attr in ("activity", "action"):
                value = getattr(obj, attr, None)
                if isinstance(value, str) and value:
                    (known if attr == "activity" else actions).add(activity_key(value))
            items = [getattr(obj, name, None) for name in type(obj).model_fields]
        else:
            return
        for item in items:
            walk(item, depth + 1)

    for part in ("scoring", "qualification", "routing", "followups", "stages", "sources"):
        walk(getattr(rules, part, None))
    known |= actions
    known |= {t for t, a in ACTIVITY_ACTIONS.items() if a in actions}
    return known


@dataclass
class TypeCheck:
    """Activity types nobody knows (not in the rules, not in the store), and the known ones."""

    unknown: dict[str, int]
    known: list[str]


def check_activity_types(conn, rules: RuleSet | None, types: dict[str, int], *,
                         exclude_batch: int | None = None) -> TypeCheck:
    """Which of `types` (type → rows) no rule uses and the store has never seen."""
    known = rule_activity_types(rules)
    unknown = {t: n for t, n in types.items() if t not in known}
    if not unknown:
        return TypeCheck({}, sorted(known))
    a = ACTIVITIES
    q = select(a.c.type).distinct()
    if exclude_batch is not None:
        q = q.where(or_(a.c.batch_id.is_(None), a.c.batch_id != exclude_batch))
    stored = {t for (t,) in conn.execute(q)}
    return TypeCheck({t: n for t, n in sorted(unknown.items()) if t not in stored}, sorted(known | stored))


def activity_type(value: str) -> str:
    """`Page View` → `page_view`: the one spelling per type (`words.activity_key`) rules name."""
    name = activity_key(value)
    if not name:
        raise UsageError(f"'{value}' is not an activity type")
    return name


@dataclass
class ActivityImportResult:
    batch: int | None
    read: int = 0
    created: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejects_file: str | None = None
    lead_ids: IdSet = field(default_factory=IdSet, repr=False)
    types: dict[str, int] = field(default_factory=dict, repr=False)   # type → rows stored (or to store)
    unknown_types: dict[str, int] = field(default_factory=dict)       # ... of which no rule or store knows
    known_types: list[str] = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, Any]:
        return {"batch": self.batch, "read": self.read, "created": self.created, "duplicates": self.duplicates,
                "rejected": self.rejected, "unknown_types": dict(self.unknown_types)}


def log_activity(store: Store, lead_id: int, type_: str, *, at: datetime, note: str | None = None,
                 fields: dict[str, Any] | None = None, source: str = "manual", touch_source: str | None = None,
                 campaign: str | None = None) -> int:
    """Record one activity for a lead; returns its id."""
    kind = activity_type(type_)
    with store.begin() as conn:
        aid = conn.execute(ACTIVITIES.insert().values(
            lead_id=lead_id, type=kind, at=at, note=note, fields=fields or None, source=source,
            touch_source=touch_source or None, campaign=campaign or None,
        ).returning(ACTIVITIES.c.id)).scalar_one()
        _touch_leads(conn, [(lead_id, kind, at)])
    return aid


def _touch_leads(conn, events: list[tuple[int, str, datetime]], batch_id: int | None = None) -> None:
    """Move last_activity_at / last_contacted_at forward and complete matching follow-ups;
    with a batch, record what moved and what was completed (for `batches undo`)."""
    t = LEADS
    latest: dict[int, datetime] = {}
    contacted: dict[int, datetime] = {}
    for lead_id, kind, at in events:
        if at > latest.get(lead_id, datetime.min):
            latest[lead_id] = at
        if kind in CONTACT_TYPES and at > contacted.get(lead_id, datetime.min):
            contacted[lead_id] = at
    changes: list[dict[str, Any]] = []
    if batch_id is not None:
        changes = _time_changes(conn, batch_id, latest, contacted)
    for column, values in (("last_activity_at", latest), ("last_contacted_at", contacted)):
        if not values:
            continue
        col = t.c[column]
        stmt = t.update().where(t.c.id == bindparam("_id"),
                                (col.is_(None)) | (col < bindparam("_at"))).values({column: bindparam("_at")})
        conn.execute(stmt, [{"_id": k, "_at": v} for k, v in values.items()])
    done = complete_matching_tasks(conn, events)
    if batch_id is not None:
        for (lead_id, _kind, at), tid in zip(events, done):
            if tid is not None:
                changes.append({"batch_id": batch_id, "lead_id": lead_id, "action": "completed",
                                "before": {"task": tid, "status": "pending", "completed_at": None},
                                "after": {"task": tid, "status": "done", "completed_at": at.isoformat()}})
        if changes:
            conn.execute(BATCH_CHANGES.insert(), changes)


def _time_changes(conn, batch_id: int, latest: dict[int, datetime],
                  contacted: dict[int, datetime]) -> list[dict[str, Any]]:
    """The batch_changes rows for the activity times these events move (read before they move)."""
    t = LEADS
    ids = sorted(latest)
    out = []
    for i in range(0, len(ids), 500):
        for lid, last, last_contact in conn.execute(
                select(t.c.id, t.c.last_activity_at, t.c.last_contacted_at).where(t.c.id.in_(ids[i:i + 500]))):
            before, after = {}, {}
            for col, old, new in (("last_activity_at", last, latest.get(lid)),
                                  ("last_contacted_at", last_contact, contacted.get(lid))):
                if new is not None and (old is None or old < new):
                    before[col] = old.isoformat() if old else None
                    after[col] = new.isoformat()
            if before:
                out.append({"batch_id": batch_id, "lead_id": lid, "action": "updated", "before": before,
                            "after": after})
    return out


def import_activities(store: Store, path: str, *, now: datetime, mapping: str | None = None,
                      rejects: str | None = None, fmt: str | None = None, default_region: str | None = None,
                      dry_run: bool = False, rules: RuleSet | None = None) -> ActivityImportResult:
    """Import an events file keyed by the lead's e-mail, phone or external id.

    Rows naming no known lead, no type, an unreadable time or a time more than a day
    after `now` are written to the rejects file with their reason. The same event
    imported twice is stored once. With `rules`, types that neither the rules nor the
    store know are listed in `unknown_types` (stored all the same).
    """
    spec = load_mapping(mapping, fields=TARGETS) if mapping else None
    if spec is not None and spec.match:
        raise UsageError("an activity import finds the lead by e-mail, then phone, then external id; "
                         "its mapping file cannot set match keys", file=mapping)
    stream = read_records(path, fmt=fmt)
    default_region = default_region or project_region(store)  # the region `leadctl init --region` set
    columns = _map_columns(stream.headers, spec)
    defaults = dict(spec.defaults) if spec is not None else {}
    if "type" not in columns.values() and "type" not in defaults:
        raise InputError("no activity type column (type, activity, event …)", file=path,
                         hint="map one with a mapping file: columns: {Event: type}")
    if not set(_LEAD_KEYS) & set(columns.values()):
        raise InputError("no column identifies the lead (email, phone or external_id)", file=path)
    result = ActivityImportResult(batch=None)
    writer = RejectsWriter(rejects or (path + ".rejects.csv"), stream.headers, enabled=not dry_run)
    conn = store.engine.connect()
    tx: Any = conn.begin()
    try:
        # "undo": its batch_changes say what it moved and completed.
        options: dict[str, Any] = {"undo": "recorded"}
        if mapping:
            options["mapping"] = mapping
        result.batch = start_batch(conn, "activities", path, options)
        if not dry_run:  # each chunk commits on its own; the batch row first
            tx.commit()
            tx = None
        pending: list[tuple[int, dict[str, Any]]] = []

        def flush() -> None:
            _import_chunk(store, conn, pending, columns, defaults, result, writer, now, default_region, dry_run)
            pending.clear()
            if not dry_run:
                conn.commit()  # end the read snapshot: the next chunk sees what this one wrote

        try:
            for number, raw in stream:
                result.read += 1
                if isinstance(raw, BadRecord):
                    writer.write(number, raw.reason, None, None, {"_raw": raw.raw})
                    result.rejected += 1
                    continue
                pending.append((number, raw))
                if len(pending) >= CHUNK:
                    flush()
            if pending:
                flush()
        except (LeadctlError, KeyboardInterrupt) as exc:
            if not dry_run:  # a file that cannot be read to the end leaves the store as it was
                conn.rollback()
                rollback_batch(store, result.batch)
                failed = isinstance(exc, LeadctlError)
                finish_batch(store, result.batch, "failed" if failed else "interrupted", read=result.read,
                             message=exc.describe() if isinstance(exc, LeadctlError)
                             else "stopped by the user; its chunks were taken back")
            raise
        if result.types:
            check = check_activity_types(conn, rules, result.types, exclude_batch=result.batch)
            result.unknown_types, result.known_types = check.unknown, check.known
        if not dry_run:
            finish_batch(store, result.batch, "complete", read=result.read, created=result.created,
                         unchanged=result.duplicates, rejected=result.rejected,
                         warnings=sum(result.unknown_types.values()), sha256=stream.sha256 or "",
                         message=("unknown activity types: " + ", ".join(result.unknown_types))
                         if result.unknown_types else None)
    finally:
        writer.close()
        if tx is not None:
            tx.rollback()
        conn.close()
    if dry_run:
        result.batch = None
    result.rejects_file = writer.path_written
    return result


def _map_columns(headers: list[str], spec: MappingSpec | None) -> dict[str, str]:
    """header → activity target (email, phone, external_id, type, at, note, source) or `fields.<key>`.

    A mapping file's `columns:` come first, then its `aliases:`, then the built-in ones; each target
    takes the first column (in file order) that names it, and every other column is kept under fields.
    """
    explicit: dict[str, str] = {}
    index = _alias_index()
    if spec is not None:
        for col, cs in spec.columns.items():
            named = cs.field
            if named.startswith(ATTRIBUTES_PREFIX):  # `attributes.x` of a lead is `fields.x` of an event
                named = FIELDS_PREFIX + named[len(ATTRIBUTES_PREFIX):]
            explicit[canonical_key(col)] = named
        if spec.aliases:
            index = dict(index)
            for named, names in spec.aliases.items():
                for name in names:
                    index[canonical_key(name)] = named
    out: dict[str, str] = {}
    taken: set[str] = set()
    for h in headers:
        key = canonical_key(h)
        target = explicit.get(key) or index.get(key)
        if target in TARGETS and target not in taken:
            out[h] = target
            taken.add(target)
        elif target is not None and target.startswith(FIELDS_PREFIX):
            out[h] = target
        elif snake_case(h):
            out[h] = FIELDS_PREFIX + snake_case(h)
    return out


def _import_chunk(store: Store, conn, pending: list[tuple[int, dict[str, Any]]], columns: dict[str, str],
                  defaults: dict[str, str], result: ActivityImportResult, writer: RejectsWriter, now: datetime,
                  default_region: str | None, dry_run: bool) -> None:
    """Parse, match, deduplicate and write one chunk of rows (in one transaction of its own)."""
    parsed: list[tuple[int, dict, dict[str, Any]]] = []
    cells = [(h, t) for h, t in columns.items()] + [(None, t) for t in defaults]
    for number, raw in pending:
        values: dict[str, Any] = {"fields": {}}
        problem = None
        for header, target in cells:
            value = raw.get(header) if header is not None else defaults[target]
            if value is None or N.is_missing(value) or (header is None and target in values):
                continue
            try:
                if target == "email":
                    values["email"] = N.normalize_email(value)
                elif target == "phone":
                    values["phone"] = N.normalize_phone(value, default_region)
                elif target == "at":
                    values["at"] = N.parse_datetime(value)
                elif target == "type":
                    values["type"] = activity_type(value)
                elif target.startswith(FIELDS_PREFIX):
                    values["fields"][target[len(FIELDS_PREFIX):]] = N.clean_text(value)
                else:
                    values[target] = N.clean_text(value)
            except (N.BadValue, UsageError) as exc:
                if target in ("type", "at"):
                    problem = f"{target}: {exc}"
        if problem is None and "type" not in values:
            problem = "no activity type"
        if problem is None and values.get("at") is not None:
            future = check_not_future(values["at"], now)
            if future:
                problem = f"at: {future}"
        if problem:
            writer.write(number, problem, None, None, raw)
            result.rejected += 1
            continue
        parsed.append((number, raw, values))
    ids = _find_leads(conn, [v for _, _, v in parsed])
    rows = []
    for (number, raw, values), lead_id in zip(parsed, ids):
        if lead_id is None:
            writer.write(number, "no lead with this e-mail, phone or external id", None, None, raw)
            result.rejected += 1
            continue
        rows.append({"lead_id": lead_id, "type": values["type"], "at": values.get("at") or now,
                     "note": values.get("note"), "source": values.get("source") or "import",
                     "touch_source": values.get("touch_source"), "campaign": values.get("campaign"),
                     "fields": values["fields"] or None, "batch_id": result.batch})
    rows = _drop_duplicates(conn, rows, result)
    if not rows:
        return
    for r in rows:
        result.types[r["type"]] = result.types.get(r["type"], 0) + 1
    if dry_run:
        result.created += len(rows)
        return
    with store.begin() as wconn:
        wconn.execute(ACTIVITIES.insert(), rows)
        _touch_leads(wconn, [(r["lead_id"], r["type"], r["at"]) for r in rows], batch_id=result.batch)
    result.created += len(rows)
    result.lead_ids.update(r["lead_id"] for r in rows)


def _find_leads(conn, values: list[dict[str, Any]]) -> list[int | None]:
    """The lead id for each event: by e-mail, then phone, then external id (one query per key), each also
    among the identifiers a lead was imported with. A value that several leads share (a switchboard
    phone) names none of them: the next key decides, or the event is reported as matching no lead."""
    t = LEADS
    li = IDENTIFIERS
    found: dict[tuple[str, str], set[int]] = {}
    for key in ("email", "phone", "external_id"):
        wanted = sorted({v[key] for v in values if v.get(key)})
        col = t.c[key]  # e-mails are stored normalised (lower case), so the index serves
        for i in range(0, len(wanted), 500):
            part = wanted[i:i + 500]
            for lid, val in conn.execute(select(t.c.id, col).where(col.in_(part), t.c.erased_at.is_(None))):
                found.setdefault((key, val), set()).add(lid)
            folded = {p.casefold(): p for p in part}
            for lid, val in conn.execute(select(li.c.lead_id, li.c.value).where(
                    li.c.kind == key, li.c.value.in_(sorted(folded)))):
                found.setdefault((key, folded[val]), set()).add(lid)
    out = []
    for v in values:
        lid = None
        for key in ("email", "phone", "external_id"):
            leads = found.get((key, v[key])) if v.get(key) else None
            if leads and len(leads) == 1:
                lid = next(iter(leads))
                break
        out.append(lid)
    return out


def _drop_duplicates(conn, rows: list[dict[str, Any]], result: ActivityImportResult) -> list[dict[str, Any]]:
    """The same event (lead, type, time, note and fields) imported again is not stored twice."""
    if not rows:
        return rows
    a = ACTIVITIES
    lead_ids = sorted({r["lead_id"] for r in rows})
    seen: set[tuple] = set()
    for i in range(0, len(lead_ids), 500):
        for rec in conn.execute(select(a.c.lead_id, a.c.type, a.c.at, a.c.note, a.c.fields)
                                .where(a.c.lead_id.in_(lead_ids[i:i + 500]))):
            seen.add(_event_key(rec.lead_id, rec.type, rec.at, rec.note, rec.fields))
    out = []
    for r in rows:
        key = _event_key(r["lead_id"], r["type"], r["at"], r["note"], r["fields"])
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        out.append(r)
    return out


def _event_key(lead_id, type_, at, note, fields) -> tuple:
    return (lead_id, type_, at, note or None, tuple(sorted((fields or {}).items())))
