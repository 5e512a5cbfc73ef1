"""The funnel: how many leads reached each stage, conversion between stages, time spent in each.

    report = funnel_report(store, stage_list(rules), LeadFilter(since=...), now=now, by="month")

- Funnel stages are the non-terminal and won stages of stages.yaml, in order;
  lost-kind stages are listed apart and count the leads *currently* in them.
- **reached** (default): a lead reached stage k when its stage history or its
  current stage shows k or any later funnel stage — a skipped stage still counts,
  and a lead moved back by force keeps the furthest stage it reached. Every lead
  reached the first stage.
- **strict**: a lead counts at stage k only when its history shows every stage
  0..k, each first entered no earlier than the one before (creation counts as
  entering the first stage).
- **time in stage**: for each stage-history row, the time until the lead's next
  stage-history row (its `left_at`). A lead still in the stage is censored at `now` (its time so
  far is counted), so medians of busy stages are lower bounds. Only non-terminal
  funnel stages have a time; rows dated after `now` are left out.
- Conversion percentages are rounded to 0.1; times are in days, rounded to 0.1.
- `by="segment"`: one funnel per segment (then the leads in none, cohort None); a
  lead in two segments counts in each, so `overall` holds the funnel over the leads
  counted once (the totals and the funnel chart).
"""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import case, func, literal, or_, select

from ..engine.leadquery import LEADS, LeadFilter, lead_conditions
from ..store.tables import LEAD_SEGMENTS
from .common import (
    HISTORY,
    Funnel,
    StageInfo,
    cohort_column,
    filtered,
    grouped_percentiles,
    lead_facts,
    report_connection,
    seconds_between,
    time_value,
)
from .data import FunnelReport, FunnelRow, funnel_report_from

__all__ = ["FunnelReport", "FunnelRow", "funnel_report"]


def _strict_depth(funnel: Funnel):
    """SQL over a per-lead subquery of first arrivals: the deepest k with stages 0..k entered in order."""
    n = len(funnel.funnel)
    firsts = (select(HISTORY.c.lead_id.label("lead_id"),
                     *[func.min(case((HISTORY.c.to_stage == s.name, HISTORY.c.at), else_=None)).label(f"f{i}")
                       for i, s in enumerate(funnel.funnel)])
              .group_by(HISTORY.c.lead_id).subquery("firsts"))
    arrivals = [LEADS.c.created_at] + [firsts.c[f"f{i}"] for i in range(1, n)]
    whens = [(or_(arrivals[k].is_(None), arrivals[k] < arrivals[k - 1]), k - 1) for k in range(1, n)]
    depth = case(*whens, else_=n - 1) if whens else literal(n - 1)
    return firsts, depth


def funnel_report(store, stages: Sequence[StageInfo], flt: LeadFilter, *, now: datetime, by: str | None = None,
                  strict: bool = False) -> FunnelReport:
    """Count, convert and time every funnel stage for the leads the filter selects."""
    funnel = Funnel(stages)
    by_segment = by == "segment"
    # With segments, a lead in two segments is a row of each (the outer join), one in none a row of NULL.
    cohort = (LEAD_SEGMENTS.c.segment if by_segment else cohort_column(by)).label("cohort")
    where = filtered(flt)
    if strict:
        firsts, depth = _strict_depth(funnel)
        base = LEADS.outerjoin(firsts, firsts.c.lead_id == LEADS.c.id)
    else:
        base, depth, _won = lead_facts(funnel)
    # Leads counted per (cohort, furthest stage, lost stage); "reached k" sums the depths ≥ k
    # here. Summing CASEs over the depth in SQL would evaluate it once per funnel stage.
    lost_names = [s.name for s in funnel.lost]
    lost = case((LEADS.c.stage.in_(lost_names), LEADS.c.stage), else_=None) if lost_names else literal(None)
    agg = (select(cohort, depth.label("depth"), lost.label("lost"), func.count().label("leads"))
           .select_from(base.outerjoin(LEAD_SEGMENTS, LEAD_SEGMENTS.c.lead_id == LEADS.c.id) if by_segment else base)
           .where(where).group_by(cohort, depth, lost))
    once = (select(depth.label("depth"), lost.label("lost"), func.count().label("leads"))
            .select_from(base).where(where).group_by(depth, lost))

    # Time in stage: each history row until the lead's next one (`left_at`, kept by
    # store.history), the latest censored at now. Without filters or cohorts the leads
    # table is not needed: the index (to_stage, at, left_at) covers the query.
    now_value = time_value(now)
    timed = [s.name for s in funnel.funnel if s.kind is None]
    cols = [HISTORY.c.to_stage.label("stage"), HISTORY.c.at.label("at"), HISTORY.c.left_at.label("left_at")]
    if by or lead_conditions(flt):
        joined = HISTORY.join(LEADS, LEADS.c.id == HISTORY.c.lead_id)
        if by_segment:
            joined = joined.outerjoin(LEAD_SEGMENTS, LEAD_SEGMENTS.c.lead_id == LEADS.c.id)
        steps = (select((LEAD_SEGMENTS.c.segment if by_segment else cohort_column(by)).label("cohort"), *cols)
                 .select_from(joined).where(where))
    else:
        steps = select(*cols)
    steps = steps.where(HISTORY.c.to_stage.in_(timed) if timed else literal(False),
                        HISTORY.c.at <= now_value).subquery("steps")
    days = seconds_between(steps.c.at, func.coalesce(steps.c.left_at, now_value)) / 86400.0
    keys = [steps.c.cohort, steps.c.stage] if by else [steps.c.stage]
    durations = select(*keys, days.label("days"))

    with report_connection(store) as conn:
        counts = [(row.cohort, row.depth, row.lost, row.leads) for row in conn.execute(agg)]
        # Over every lead, SQLite keeps counts of the stays (store/stays.py): the start-up path's reading of
        # them gives the same times without reading every history row (--strict and charts come here).
        counted = None
        if timed and not by and not lead_conditions(flt) and conn.dialect.name == "sqlite":
            from .lite import times_from_stays

            counted = times_from_stays(conn.connection.driver_connection, timed, now)
        # Hour steps on SQLite: exact to well below the 0.1 day shown.
        # `at` is never NULL, so neither is a duration.
        times = counted if counted is not None else \
            grouped_percentiles(conn, durations, resolution=1 / 24, nullable=False) if timed else {}
        counted_once = [(None, *row) for row in conn.execute(once)] if by_segment else []
    report = funnel_report_from(stages, counts, times, flt, now=now, by=by, strict=strict)
    if by_segment:
        report.overall = funnel_report_from(stages, counted_once, {}, flt, now=now, strict=strict).rows
    return report
