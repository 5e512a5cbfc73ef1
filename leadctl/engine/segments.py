"""Segments (rules/segments.yaml): named sets of leads, kept in `lead_segments` by `process`.

Membership is computed set-wise: per segment, one streaming query over the leads
(only the columns its condition reads), the compiled condition deciding each row,
and the members written in batches — at the end of every `process` run, since
conditions on dates (`days_since_activity`) change with the clock alone.
`--segment NAME` then filters with one `IN (SELECT lead_id …)`.

    refresh_segments(conn, rules, now)          # {segment: members}
    segment_clause(resolve_segment(rules, "enterprise"))
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

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


def refresh_segments(conn, rules: RuleSet, now: datetime) -> dict[str, int]:
    """Recompute every segment's members (erased leads are in none); return the count per segment."""
    segs = getattr(rules, "segments", None)
    segments = segs.segments if segs is not None else ()
    names = [s.name for s in segments]
    stale = delete(LEAD_SEGMENTS)
    conn.execute(stale.where(LEAD_SEGMENTS.c.segment.not_in(names)) if names else stale)
    counts: dict[str, int] = {}
    for seg in segments:
        conn.execute(delete(LEAD_SEGMENTS).where(LEAD_SEGMENTS.c.segment == seg.name))
        cols, acts = _columns(seg.when.fields)
        result = conn.execute(select(*(LEADS.c[c] for c in cols)).where(LEADS.c.erased_at.is_(None))
                              .order_by(LEADS.c.id))
        n = 0
        while rows := result.fetchmany(_BATCH):
            leads = [dict(r._mapping) for r in rows]
            if acts:
                from .followups import _activity_facts

                facts = _activity_facts(conn, [lead["id"] for lead in leads])
                for lead in leads:
                    lead["activity"] = facts.get(lead["id"], {})
            members = [{"segment": seg.name, "lead_id": lead["id"]} for lead in leads if seg.when(lead, now)]
            if members:
                bulk.insert(conn, LEAD_SEGMENTS, members, ("segment", "lead_id"))
                n += len(members)
        counts[seg.name] = n
    return counts


def segments_of(conn, lead_id: int) -> list[str]:
    """The segments a lead is in (as the last `process` found), by name."""
    q = select(LEAD_SEGMENTS.c.segment).where(LEAD_SEGMENTS.c.lead_id == lead_id).order_by(LEAD_SEGMENTS.c.segment)
    return [s for (s,) in conn.execute(q)]


def segment_sizes(conn) -> dict[str, int]:
    """Members per segment."""
    q = select(LEAD_SEGMENTS.c.segment, func.count()).group_by(LEAD_SEGMENTS.c.segment)
    return {s: n for s, n in conn.execute(q)}
