"""Retention: erase the personal data of many leads at once (`leads forget --inactive-since 3y --stage lost`).

Each lead is forgotten exactly as `leads forget LEAD` does (engine.leadops.forget_many): anonymous
facts stay for the reports and an `erasures` row records each erasure.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select

from .errors import UsageError
from .store.db import Store, overwrite_deleted, truncate_log
from .store.tables import LEADS

_AGE = re.compile(r"\s*(\d+)\s*(y|mo|w|d)\s*", re.IGNORECASE)
_DAYS = {"y": 365, "mo": 30, "w": 7, "d": 1}


def inactive_cutoff(text: str, now: datetime) -> datetime:
    """`3y`, `18mo`, `6w`, `90d` before `now`, or a date (YYYY-MM-DD): leads quiet since then are inactive."""
    m = _AGE.fullmatch(text or "")
    if m:
        return now - timedelta(days=int(m.group(1)) * _DAYS[m.group(2).lower()])
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"bad age '{text}' (use 3y, 18mo, 6w, 90d or a date YYYY-MM-DD)",
                         option="--inactive-since") from None


@dataclass
class Retention:
    """Which leads a retention run erases (or would): counts by stage, and the ids."""

    ids: list[int] = field(default_factory=list)
    by_stage: dict[str, int] = field(default_factory=dict)
    erased: int = 0


def select_leads(store: Store, *, inactive_since: datetime | None, stage: str | None,
                 segment: str | None = None) -> Retention:
    """Leads not yet erased whose last activity (or creation, without one) is before `inactive_since`,
    and/or in `stage`, and/or in `segment` (as the last `process` stored it); at least one must be given."""
    if inactive_since is None and not stage and not segment:
        raise UsageError("no leads named to forget",
                         hint="name them with --inactive-since AGE, --stage STAGE and/or --segment NAME, or one LEAD")
    t = LEADS
    query = select(t.c.id, t.c.stage).where(t.c.erased_at.is_(None))
    if inactive_since is not None:
        last = func.coalesce(t.c.last_activity_at, t.c.created_at)
        query = query.where(last < inactive_since)
    if stage:
        query = query.where(func.lower(t.c.stage) == stage.strip().lower())
    if segment:
        from .engine.segments import segment_clause

        query = query.where(segment_clause(segment, t.c.id))
    out = Retention()
    with store.connect() as conn:
        for lid, st in conn.execute(query.order_by(t.c.id)):
            out.ids.append(lid)
            out.by_stage[st] = out.by_stage.get(st, 0) + 1
    return out


def forget_selected(store: Store, chosen: Retention, *, now: datetime) -> Retention:
    """Erase the chosen leads' personal data in one transaction; freed bytes overwritten, log truncated."""
    from .engine.leadops import forget_many

    with store.begin() as conn:
        overwrite_deleted(conn)
        chosen.erased = len(forget_many(conn, chosen.ids, now=now))
    truncate_log(store)
    return chosen
