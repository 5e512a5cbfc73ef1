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
"""
from __future__ import annotations

from typing import Sequence

from sqlalchemy import case, func, select

from ..engine.leadquery import LEADS, LeadFilter
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


def sources_report(store, stages: Sequence[StageInfo], sources: Sequence[SourceInfo], flt: LeadFilter
                   ) -> SourcesReport:
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
    per_spelling = (select(spelling, func.count().label("leads"), reached(mql).label("mql"),
                           reached(sql_).label("sql"), func.sum(case((won, 1), else_=0)).label("won"),
                           func.sum(case((is_lost(funnel), 1), else_=0)).label("lost"),
                           func.sum(LEADS.c.score).label("sum_score"), func.count(LEADS.c.score).label("scored"))
                    .select_from(base).where(where).group_by(spelling).subquery("per_spelling"))
    src = canonical_source(sources, per_spelling.c.spelling).label("source")
    stmt = select(src, *(func.sum(per_spelling.c[c]).label(c)
                         for c in ("leads", "mql", "sql", "won", "lost", "sum_score", "scored"))).group_by(src)
    contacts = first_contacts()
    response = (select(canonical_source(sources).label("source"), first_response_hours(contacts).label("hours"))
                .select_from(with_first_contacts(LEADS, contacts)).where(where))
    with report_connection(store) as conn:
        groups = [tuple(g) for g in conn.execute(stmt)]
        medians = grouped_percentiles(conn, response, (0.5,), overall=True, resolution=1 / 60)

    return sources_report_from(stages, sources, groups, medians, flt)
