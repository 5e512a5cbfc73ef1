"""Where leads come from, and what each source turns into.

    rows = sources_report(store, stages, sources, LeadFilter(since=...), now=now).rows

- Sources are grouped by their canonical name: with a sources.yaml, a stored value
  matching a name or alias (case-insensitively, trimmed) counts as that source;
  other values are trimmed; blank or missing is `(none)`.
- `reached_mql` / `reached_sql` use the stages named `mql` and `sql` when the
  stage list has them, else the 2nd and 3rd funnel stages ("reached" as in the
  funnel: history or current stage at or past it).
- `won`: reached a won stage; `lost`: currently in a lost-kind stage;
  `won_rate` = won / leads in %.
- `median_first_response_hours`: creation → first contact activity, else
  last_contacted_at (see reports.common).
- Spend: the monthly costs of sources.yaml for the months overlapping the
  window (all months without a window); cost_per_lead = spend / leads,
  cost_per_won = spend / won. The total row adds the spend of every source and
  divides by all leads / all won.
- Sorted by leads (descending), then name; the total row comes last.
- `by="segment"`: one row per segment and source (segments by name, then the leads
  in none, `segment` None). A lead in two segments counts in each; the total row
  still counts every lead once. Spend belongs to a source, not to a segment: the
  segment rows leave it (and the costs) empty, the total row keeps it.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

from sqlalchemy import case, func, select

from ..engine.leadquery import LEADS, LeadFilter
from ..errors import UsageError
from ..store.tables import LEAD_SEGMENTS
from .common import (
    NONE_LABEL,
    Funnel,
    StageInfo,
    filtered,
    first_contacts,
    first_response_hours,
    grouped_percentiles,
    is_lost,
    lead_facts,
    report_connection,
    with_first_contacts,
)
from .data import (
    TOTAL_LABEL,
    SourceInfo,
    SourceRow,
    SourcesReport,
    months_in_window,
    source_infos,
    source_spellings,
    sources_report_from,
)

__all__ = ["TOTAL_LABEL", "SourceInfo", "SourceRow", "SourcesReport", "months_in_window", "source_infos",
           "canonical_source", "sources_report"]


def canonical_source(sources: Sequence[SourceInfo], column=LEADS.c.source):
    """SQL: the canonical source name of a lead (`(none)` when blank), from its `column`."""
    trimmed = func.trim(column)
    mapping = source_spellings(sources)
    named = case(mapping, value=func.lower(trimmed), else_=trimmed) if mapping else trimmed
    return func.coalesce(func.nullif(named, ""), NONE_LABEL)


def sources_report(store, stages: Sequence[StageInfo], sources: Sequence[SourceInfo], flt: LeadFilter, *,
                   by: str | None = None) -> SourcesReport:
    """Per source (per segment and source with `by="segment"`) what the leads the filter selects became."""
    if by not in (None, "segment"):
        raise UsageError(f"'{by}' is not one of segment", option="--by")
    overall = _sources(store, stages, sources, flt)
    if by is None:
        return overall
    groups, medians = _sources(store, stages, sources, flt, segments=True)
    rows: list[SourceRow] = []
    for segment in sorted({g[0] for g in groups}, key=lambda n: (n is None, (n or "").casefold())):
        mine = [g[1:] for g in groups if g[0] == segment]
        times = {key[1]: m for key, m in medians.items() if isinstance(key, tuple) and key[0] == segment}
        for r in sources_report_from(stages, sources, mine, times, flt).rows[:-1]:
            rows.append(replace(r, segment=segment, spend=None, cost_per_lead=None, cost_per_won=None))
    return replace(overall, rows=rows + overall.rows[-1:], by=by)


def _sources(store, stages: Sequence[StageInfo], sources: Sequence[SourceInfo], flt: LeadFilter, *,
             segments: bool = False) -> Any:
    """The sources report; with `segments`, its query results per (segment, source) instead."""
    funnel = Funnel(stages)
    mql = funnel.named_or_nth("mql", 1)
    sql_ = funnel.named_or_nth("sql", 2)
    base, depth, won = lead_facts(funnel)
    where = filtered(flt)

    def reached(k):
        return func.sum(case((depth >= k, 1), else_=0)) if k is not None else func.sum(0)

    # Counted per spelling first, then summed per canonical name: the name's CASE runs once per
    # spelling instead of once per lead (1M leads: ~1.5 s), and the spellings come in the order
    # of ix_leads_facts, which holds every column read here.
    spelling = LEADS.c.source.label("spelling")
    # With segments, a lead in two segments is a row of each (the outer join), one in none a row of NULL.
    keys = [LEAD_SEGMENTS.c.segment.label("segment")] if segments else []
    leads = LEADS.outerjoin(LEAD_SEGMENTS, LEAD_SEGMENTS.c.lead_id == LEADS.c.id) if segments else LEADS
    if segments:
        base = leads
    per_spelling = (select(*keys, spelling, func.count().label("leads"), reached(mql).label("mql"),
                           reached(sql_).label("sql"), func.sum(case((won, 1), else_=0)).label("won"),
                           func.sum(case((is_lost(funnel), 1), else_=0)).label("lost"),
                           func.sum(LEADS.c.score).label("sum_score"), func.count(LEADS.c.score).label("scored"))
                    .select_from(base).where(where).group_by(*keys, spelling).subquery("per_spelling"))
    src = canonical_source(sources, per_spelling.c.spelling).label("source")
    outer = [per_spelling.c.segment] if segments else []
    stmt = select(*outer, src, *(func.sum(per_spelling.c[c]).label(c)
                                 for c in ("leads", "mql", "sql", "won", "lost", "sum_score", "scored"))
                  ).group_by(*outer, src)
    contacts = first_contacts()
    response = (select(*keys, canonical_source(sources).label("source"),
                       first_response_hours(contacts).label("hours"))
                .select_from(with_first_contacts(leads, contacts)).where(where))
    with report_connection(store) as conn:
        groups = [tuple(g) for g in conn.execute(stmt)]
        medians = grouped_percentiles(conn, response, (0.5,), overall=True, resolution=1 / 60)
    if segments:
        return groups, medians
    return sources_report_from(stages, sources, groups, medians, flt)
