"""Segments (rules/segments.yaml): named sets of leads, kept in `lead_segments` by `process`.

Membership is computed set-wise: per segment, one streaming query over the leads
(only the columns its condition reads), the compiled condition deciding each row,
and the members written in batches — at the end of every `process` run, since
conditions on dates (`days_since_activity`) change with the clock alone.
`--segment NAME` then filters with one `IN (SELECT lead_id …)`.

Incremental: when the segment definitions equal those of the last refresh (meta
`segments.state`) and the clock has not gone back, only the leads whose membership can
have changed are looked at again — the leads the run evaluated, the leads written since
(`processed IS NULL`: store/dirty.py; an erased lead is one of them and leaves every
segment), leads with activities logged since when a segment reads activities, and, when
the clock moved, the leads whose dates put a clock threshold of a segment's condition
between the two clocks (engine.sweepscan). A segment that reads the clock in a way no
stored date tells, deleted activities, no trigger or many leads to look at: everything.

    refresh_segments(conn, rules, now)          # {segment: members}
    refresh_segments(conn, rules, now, evaluated=ids)   # incremental when it can be
    segment_clause(resolve_segment(rules, "enterprise"))
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterator

from sqlalchemy import delete, func, select

from ..errors import UsageError
from ..store import bulk
from ..store.tables import LEAD_SEGMENTS, LEADS
from ..words import did_you_mean

if TYPE_CHECKING:
    from ..rules.loader import RuleSet

_BATCH = 5000


def segment_names(rules: RuleSet) -> list[str]:
    segs = getattr(rules, "segments", None)
    return [s.name for s in (segs.segments if segs is not None else ())]


def resolve_segment(rules: RuleSet, name: str | None) -> str | None:
    """The segment called `name` (any case); an unknown name is a usage error listing the known ones."""
    if name is None:
        return None
    names = segment_names(rules)
    for n in names:
        if n.casefold() == name.strip().casefold():
            return n
    raise UsageError(f"unknown segment '{name}'{did_you_mean(name, names)}",
                     hint=("segments: " + ", ".join(names)) if names else "define segments in rules/segments.yaml")


def segment_clause(name: str, lead_id: Any = None):
    """SQL: the lead (`lead_id`, default leads.id) is a member of segment `name`."""
    col = LEADS.c.id if lead_id is None else lead_id
    return col.in_(select(LEAD_SEGMENTS.c.lead_id).where(LEAD_SEGMENTS.c.segment == name))


def _columns(fields) -> tuple[list[str], bool]:
    """The lead columns a segment's condition reads (with the id), and whether it reads activities."""
    from ..fields import condition_columns

    cols, attrs, acts = condition_columns(fields)
    return sorted({"id", *cols, *(("attributes",) if attrs else ())}), acts


STATE_KEY = "segments.state"   # what the last refresh saw (definitions, clock, activities)
_MAX_INCREMENTAL = 100_000       # more leads to look at than this: one full pass is cheaper


def _definitions(segments) -> str:
    import hashlib

    text = repr([(s.name, s.when.source) for s in segments])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _activity_state(conn) -> tuple[int, int]:
    from ..store.tables import ACTIVITIES

    n, last = conn.execute(select(func.count(), func.max(ACTIVITIES.c.id))).one()
    return int(n or 0), int(last or 0)


def _changed(conn, segments, now: datetime, evaluated) -> set[int] | None:
    """The leads whose membership can differ from the stored one; None: look at every lead."""
    import json

    from ..store import dirty
    from ..store.db import get_meta
    from ..store.tables import ACTIVITIES
    from .sweepscan import ClockAges, condition_ages

    raw = get_meta(conn, STATE_KEY)
    try:
        state = json.loads(raw) if raw else None
        prev = datetime.fromisoformat(state["now"]) if state else None
    except (ValueError, TypeError, KeyError):
        return None
    if (evaluated is None or state is None or prev is None or state.get("digest") != _definitions(segments)
            or now < prev or not dirty.installed(conn)):
        return None
    ids = set(evaluated)
    ids.update(i for (i,) in conn.execute(select(LEADS.c.id).where(LEADS.c.processed.is_(None))))
    if any(_columns(seg.when.fields)[1] for seg in segments):
        n, _ = _activity_state(conn)
        since = int(state.get("activity", 0))
        added = conn.execute(select(func.count()).select_from(ACTIVITIES).where(ACTIVITIES.c.id > since)).scalar()
        if n != int(state.get("activities", 0)) + (added or 0):
            return None  # activities deleted: any lead may have lost one
        ids.update(i for (i,) in conn.execute(select(ACTIVITIES.c.lead_id).where(ACTIVITIES.c.id > since)))
    if now > prev:
        ages = ClockAges()
        if not all(condition_ages(seg.when.source, ages) for seg in segments):
            return None
        from .process import clock_lead_ids

        ids |= clock_lead_ids(conn, ages, prev, now)
    return ids if len(ids) <= _MAX_INCREMENTAL else None


def _record(conn, segments, now: datetime) -> None:
    import json

    from ..store.db import set_meta

    n, last = _activity_state(conn)
    set_meta(conn, STATE_KEY, json.dumps({"digest": _definitions(segments), "now": now.isoformat(),
                                          "activities": n, "activity": last}))


def _members(conn, seg, query, now: datetime) -> Iterator[list[dict]]:
    """The rows of `query` (leads) in segment `seg`, a batch at a time."""
    result = conn.execute(query)
    _, acts = _columns(seg.when.fields)
    while rows := result.fetchmany(_BATCH):
        leads = [dict(r._mapping) for r in rows]
        if acts:
            from .followups import _activity_facts

            facts = _activity_facts(conn, [lead["id"] for lead in leads])
            for lead in leads:
                lead["activity"] = facts.get(lead["id"], {})
        yield [{"segment": seg.name, "lead_id": lead["id"]} for lead in leads if seg.when(lead, now)]


def refresh_segments(conn, rules: RuleSet, now: datetime, *, evaluated=None) -> dict[str, int]:
    """Bring every segment's members up to date (erased leads are in none); return the count per segment.

    `evaluated`: the leads the calling run evaluated (None: refresh every lead)."""
    segs = getattr(rules, "segments", None)
    segments = segs.segments if segs is not None else ()
    names = [s.name for s in segments]
    changed = _changed(conn, segments, now, evaluated) if segments else None
    counts: dict[str, int] = {}
    if changed is None:
        stale = delete(LEAD_SEGMENTS)
        conn.execute(stale.where(LEAD_SEGMENTS.c.segment.not_in(names)) if names else stale)
        for seg in segments:
            conn.execute(delete(LEAD_SEGMENTS).where(LEAD_SEGMENTS.c.segment == seg.name))
            cols, _ = _columns(seg.when.fields)
            query = select(*(LEADS.c[c] for c in cols)).where(LEADS.c.erased_at.is_(None)).order_by(LEADS.c.id)
            n = 0
            for members in _members(conn, seg, query, now):
                if members:
                    bulk.insert(conn, LEAD_SEGMENTS, members, ("segment", "lead_id"))
                    n += len(members)
            counts[seg.name] = n
    else:
        ids = sorted(changed)
        for seg in segments:
            cols, _ = _columns(seg.when.fields)
            for i in range(0, len(ids), 500):
                part = ids[i:i + 500]
                conn.execute(delete(LEAD_SEGMENTS).where(LEAD_SEGMENTS.c.segment == seg.name,
                                                         LEAD_SEGMENTS.c.lead_id.in_(part)))
                query = (select(*(LEADS.c[c] for c in cols)).where(LEADS.c.erased_at.is_(None), LEADS.c.id.in_(part))
                         .order_by(LEADS.c.id))
                for members in _members(conn, seg, query, now):
                    if members:
                        bulk.insert(conn, LEAD_SEGMENTS, members, ("segment", "lead_id"))
        counts = {n: 0 for n in names}
        counts.update(segment_sizes(conn))
    if segments:
        _record(conn, segments, now)
    return counts


def segments_of(conn, lead_id: int) -> list[str]:
    """The segments a lead is in (as the last `process` found), by name."""
    q = select(LEAD_SEGMENTS.c.segment).where(LEAD_SEGMENTS.c.lead_id == lead_id).order_by(LEAD_SEGMENTS.c.segment)
    return [s for (s,) in conn.execute(q)]


def segment_sizes(conn) -> dict[str, int]:
    """Members per segment."""
    q = select(LEAD_SEGMENTS.c.segment, func.count()).group_by(LEAD_SEGMENTS.c.segment)
    return {s: n for s, n in conn.execute(q)}
