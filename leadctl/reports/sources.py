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

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import case, func, select

from ..engine.leadquery import LEADS, LeadFilter
from .common import (
    ALL,
    NONE_LABEL,
    Funnel,
    StageInfo,
    filtered,
    first_contacts,
    first_response_hours,
    grouped_percentiles,
    is_lost,
    lead_facts,
    rate,
    report_connection,
    rnd,
    with_first_contacts,
)

TOTAL_LABEL = "Total"


@dataclass
class SourceRow:
    source: str
    channel: str | None
    leads: int
    reached_mql: int
    reached_sql: int
    won: int
    lost: int
    won_rate_pct: float | None
    avg_score: float | None
    median_first_response_hours: float | None
    spend: float | None
    cost_per_lead: float | None
    cost_per_won: float | None


@dataclass
class SourcesReport:
    rows: list[SourceRow]          # per source, then the total row
    filter: LeadFilter
    mql_stage: str | None
    sql_stage: str | None

    COLUMNS = ("source", "channel", "leads", "reached_mql", "reached_sql", "won", "lost", "won_rate_pct",
               "avg_score", "median_first_response_hours", "spend", "cost_per_lead", "cost_per_won")

    def columns(self) -> tuple[str, ...]:
        return self.COLUMNS

    def records(self) -> list[tuple]:
        return [tuple(getattr(r, c) for c in self.COLUMNS) for r in self.rows]


@dataclass(frozen=True)
class SourceInfo:
    name: str
    channel: str | None
    aliases: tuple[str, ...]
    cost: dict[str, float]


def source_infos(rules: Any | None) -> list[SourceInfo]:
    """The rule set's sources (sources.yaml), as plain values; empty without the file."""
    raw = getattr(rules, "sources", None) if rules is not None else None
    if raw is not None and not isinstance(raw, (list, tuple)) and hasattr(raw, "sources"):
        raw = raw.sources  # a SourcesConfig wrapping the list
    out = []
    for s in list(raw or []):
        get = (lambda k, s=s: s.get(k)) if isinstance(s, dict) else (lambda k, s=s: getattr(s, k, None))
        cost = {}
        for month, amount in dict(get("cost") or {}).items():
            key = month.strftime("%Y-%m") if hasattr(month, "strftime") else str(month)[:7]
            cost[key] = float(amount)
        out.append(SourceInfo(str(get("name")), get("channel"), tuple(str(a) for a in (get("aliases") or ())), cost))
    return out


def canonical_source(sources: Sequence[SourceInfo], column=LEADS.c.source):
    """SQL: the canonical source name of a lead (`(none)` when blank), from its `column`."""
    trimmed = func.trim(column)
    mapping: dict[str, str] = {}
    for s in sources:
        for spelling in (s.name, *s.aliases):
            mapping.setdefault(spelling.strip().lower(), s.name)
    named = case(mapping, value=func.lower(trimmed), else_=trimmed) if mapping else trimmed
    return func.coalesce(func.nullif(named, ""), NONE_LABEL)


def months_in_window(since: datetime | None, until: datetime | None, months: Sequence[str]) -> list[str]:
    """The 'YYYY-MM' months among `months` that overlap [since, until)."""
    out = []
    for m in months:
        try:
            start = datetime(int(m[:4]), int(m[5:7]), 1)
        except ValueError:
            continue
        end = datetime(start.year + (start.month == 12), start.month % 12 + 1, 1)
        if (until is None or start < until) and (since is None or end > since):
            out.append(m)
    return out


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
        groups = list(conn.execute(stmt))
        medians = grouped_percentiles(conn, response, (0.5,), overall=True, resolution=1 / 60)

    info = {s.name: s for s in sources}
    rows = []
    for g in groups:
        s = info.get(g.source)
        spend = None
        if s and s.cost:
            spend = round(sum(s.cost[m] for m in months_in_window(flt.since, flt.until, list(s.cost))), 2)
        leads, won_n = int(g.leads), int(g.won or 0)
        rows.append(SourceRow(
            source=g.source, channel=s.channel if s else None, leads=leads, reached_mql=int(g.mql or 0),
            reached_sql=int(g.sql or 0), won=won_n, lost=int(g.lost or 0), won_rate_pct=rate(won_n, leads),
            avg_score=rnd(float(g.sum_score) / int(g.scored)) if g.scored else None,
            median_first_response_hours=rnd(medians.get(g.source, (None,))[0]),
            spend=spend, cost_per_lead=round(spend / leads, 2) if spend is not None and leads else None,
            cost_per_won=round(spend / won_n, 2) if spend is not None and won_n else None))
    rows.sort(key=lambda r: (-r.leads, r.source == NONE_LABEL, r.source.lower()))
    leads = sum(r.leads for r in rows)
    won_total = sum(r.won for r in rows)
    spends = [r.spend for r in rows if r.spend is not None]
    spend_total = round(sum(spends), 2) if spends else None
    score_sum = sum(float(g.sum_score or 0) for g in groups)
    rows.append(SourceRow(
        source=TOTAL_LABEL, channel=None, leads=leads, reached_mql=sum(r.reached_mql for r in rows),
        reached_sql=sum(r.reached_sql for r in rows), won=won_total, lost=sum(r.lost for r in rows),
        won_rate_pct=rate(won_total, leads), avg_score=rnd(score_sum / leads) if leads else None,
        median_first_response_hours=rnd(medians.get(ALL, (None,))[0]), spend=spend_total,
        cost_per_lead=round(spend_total / leads, 2) if spend_total is not None and leads else None,
        cost_per_won=round(spend_total / won_total, 2) if spend_total is not None and won_total else None))
    names = [s.name for s in funnel.funnel]
    return SourcesReport(rows=rows, filter=flt, mql_stage=names[mql] if mql is not None else None,
                         sql_stage=names[sql_] if sql_ is not None else None)
