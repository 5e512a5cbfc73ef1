"""What the funnel, sources and owners reports return, and the plain helpers they share.

No SQLAlchemy here: the start-up path (`cli.fast`) builds the same report objects from a
plain `sqlite3` connection (`reports.lite`) as the ordinary path does through SQLAlchemy
(`reports.funnel`, `.sources`, `.owners`). Both hand the numbers their queries return to
the `*_report_from` functions below, so the arithmetic after SQL is one piece of code.
Rendering (table, CSV, JSON) is `reports.output`.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from ..engine.contact import CONTACT_TYPES as _CONTACT_TYPES

if TYPE_CHECKING:
    from ..rules.loader import RuleSet

# Activity types that count as a person contacting the lead (first-response time).
CONTACT_TYPES = tuple(sorted(_CONTACT_TYPES))  # one definition of a contact: engine.contact
NONE_LABEL = "(none)"
TOTAL_LABEL = "Total"


# ---------------------------------------------------------------- stages

@dataclass(frozen=True)
class StageInfo:
    name: str
    label: str | None = None
    kind: str | None = None  # None | "won" | "lost"


def default_stages() -> list[StageInfo]:
    """The funnel without a stages.yaml: the rules' own default (rules/schema.py), as reports see it."""
    from ..rules.schema import DEFAULT_STAGES as schema_stages

    out: list[StageInfo] = []
    for s in schema_stages:
        get: Any = s.get
        out.append(StageInfo(str(s["name"]), get("label"), get("kind")))
    return out


def stage_list(rules: RuleSet | None) -> list[StageInfo]:
    """The rule set's stages in funnel order — or, without a stages.yaml, the default list.

    Without rules the fallback is the rules' default funnel (rules.schema.DEFAULT_STAGES).
    """
    raw = getattr(rules, "stages", None) if rules is not None else None
    if raw is not None and not isinstance(raw, (list, tuple)) and hasattr(raw, "stages"):
        raw = raw.stages  # a Stages object wrapping the list
    out = []
    for s in list(raw or []):
        name = getattr(s, "name", None) or (s.get("name") if isinstance(s, dict) else None)
        if not name:
            continue
        get = (lambda k, s=s: s.get(k)) if isinstance(s, dict) else (lambda k, s=s: getattr(s, k, None))
        kind = get("kind")
        kind = getattr(kind, "value", kind)
        out.append(StageInfo(str(name), get("label"), str(kind) if kind else None))
    return out or default_stages()


class Stages:
    """The stage list split the way reports need it: funnel stages (with won) and lost ones apart."""

    def __init__(self, stages: Sequence[StageInfo]):
        self.stages = list(stages)
        self.funnel = [s for s in self.stages if s.kind != "lost"]
        self.lost = [s for s in self.stages if s.kind == "lost"]
        self.won = [s for s in self.funnel if s.kind == "won"]
        self.index = {s.name: i for i, s in enumerate(self.funnel)}

    @property
    def won_index(self) -> int | None:
        return self.index[self.won[0].name] if self.won else None

    def named_or_nth(self, name: str, n: int) -> int | None:
        """Index of stage `name`, else of the n-th funnel stage (0-based), else None."""
        if name in self.index:
            return self.index[name]
        return n if n < len(self.funnel) else None


# ---------------------------------------------------------------- numbers

def rate(part: int | float | None, whole: int | float | None) -> float | None:
    """part / whole as a percentage rounded to 0.1, None when whole is 0."""
    if not whole or part is None:
        return None
    return round(100.0 * part / whole, 1)


def rnd(value: float | None, digits: int = 1) -> float | None:
    """`value` rounded (None stays None)."""
    return None if value is None else round(float(value), digits)


def pick(sorted_values: Sequence[float], q: float) -> float | None:
    """percentile_cont: linear interpolation between the closest ranks."""
    n = len(sorted_values)
    if n == 0:
        return None
    pos = q * (n - 1)
    lo = int(pos)
    hi = min(lo + 1, n - 1)
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo))


ALL: Any = object()  # key of the overall percentiles in grouped percentiles


def pick_weighted(pairs: Sequence[tuple[float, int]], q: float) -> float | None:
    """percentile_cont over (value, count) pairs sorted by value."""
    total = sum(c for _, c in pairs)
    if total == 0:
        return None
    pos = q * (total - 1)
    lo_rank = int(pos)
    hi_rank = min(lo_rank + 1, total - 1)
    lo = hi = None
    seen = 0
    for value, count in pairs:
        seen += count
        if lo is None and lo_rank < seen:
            lo = value
        if hi_rank < seen:
            hi = value
            break
    return float(lo + (hi - lo) * (pos - lo_rank))  # type: ignore[operator]


def stepped_percentiles(rows: Iterable[Sequence[Any]], nk: int, resolution: float, qs: Sequence[float],
                        overall: bool) -> dict[Any, tuple[float | None, ...]]:
    """Percentiles from rows (*keys, step, count) ordered by keys then step (`step` = value / resolution,
    rounded; NULL steps are skipped). Keys are scalars for one key column, tuples for more."""
    out: dict[Any, tuple[float | None, ...]] = {}

    def key_of(row):
        return row[0] if nk == 1 else tuple(row[:nk])

    rows = [r for r in rows if r[nk] is not None]
    everything: dict[float, int] = {}
    for key, group in groupby(rows, key=key_of) if nk else [(ALL, rows)]:
        pairs = [(float(r[nk]) * resolution, int(r[nk + 1])) for r in group]
        out[key] = tuple(pick_weighted(pairs, q) for q in qs)
        if overall and nk:
            for v, c in pairs:
                everything[v] = everything.get(v, 0) + c
    if overall and nk:
        out[ALL] = tuple(pick_weighted(sorted(everything.items()), q) for q in qs)
    elif ALL not in out and (overall or not nk):
        out[ALL] = tuple(None for _ in qs)
    return out


# ---------------------------------------------------------------- funnel

@dataclass
class FunnelRow:
    cohort: str | None
    stage: str
    label: str
    kind: str | None
    reached: int
    next_conversion_pct: float | None
    cumulative_conversion_pct: float | None
    drop_off: int | None
    median_days: float | None
    p90_days: float | None


@dataclass
class FunnelReport:
    rows: list[FunnelRow]
    filter: Any                      # the LeadFilter the report was made for
    now: datetime
    by: str | None = None
    strict: bool = False
    cohorts: list[str | None] = field(default_factory=list)
    # With --by segment a lead in two segments counts in each: the funnel over the leads counted once.
    overall: list[FunnelRow] | None = None

    COLUMNS = ("cohort", "stage", "kind", "reached", "next_conversion_pct", "cumulative_conversion_pct",
               "drop_off", "median_days", "p90_days")

    def columns(self) -> tuple[str, ...]:
        return self.COLUMNS if self.by else self.COLUMNS[1:]

    def records(self) -> list[tuple]:
        """Rows as tuples in `columns()` order (what CSV and JSON print)."""
        out = []
        for r in self.rows:
            values = (r.cohort, r.stage, r.kind or "", r.reached, r.next_conversion_pct,
                      r.cumulative_conversion_pct, r.drop_off, r.median_days, r.p90_days)
            out.append(values if self.by else values[1:])
        return out


def funnel_report_from(stages: Sequence[StageInfo], counts: Iterable[Sequence[Any]],
                       times: dict[Any, tuple[float | None, ...]], flt: Any, *, now: datetime,
                       by: str | None = None, strict: bool = False) -> FunnelReport:
    """The funnel from its query results: `counts` rows (cohort, depth, lost stage or None, leads) and
    `times` (median, p90) days per stage (per (cohort, stage) with `by`)."""
    funnel = Stages(stages)
    n = len(funnel.funnel)
    reached_by: dict[str | None, list[int]] = {}
    lost_by: dict[str | None, Counter] = {}
    for cohort, depth, lost, leads in counts:
        reached = reached_by.setdefault(cohort, [0] * n)
        for k in range(min(int(depth), n - 1) + 1):
            reached[k] += leads
        if lost is not None:
            lost_by.setdefault(cohort, Counter())[lost] += leads
    cohorts: list[str | None] = sorted(reached_by, key=lambda c: (c is None, c or "")) if by else [None]
    rows: list[FunnelRow] = []
    for c in cohorts:
        reached = reached_by.get(c, [0] * n)
        for k, s in enumerate(funnel.funnel):
            nxt = reached[k + 1] if k + 1 < n else None
            t = times.get((c, s.name) if by else s.name, (None, None)) if s.kind is None else (None, None)
            rows.append(FunnelRow(
                cohort=c, stage=s.name, label=s.label or s.name, kind=s.kind, reached=reached[k],
                next_conversion_pct=rate(nxt, reached[k]) if nxt is not None else None,
                cumulative_conversion_pct=rate(reached[k], reached[0]),
                drop_off=reached[k] - nxt if nxt is not None else None,
                median_days=rnd(t[0]), p90_days=rnd(t[1])))
        for s in funnel.lost:
            count = lost_by.get(c, Counter())[s.name]
            cumulative = rate(count, reached[0]) if reached else None
            rows.append(FunnelRow(cohort=c, stage=s.name, label=s.label or s.name, kind=s.kind, reached=count,
                                  next_conversion_pct=None, cumulative_conversion_pct=cumulative,
                                  drop_off=None, median_days=None, p90_days=None))
    return FunnelReport(rows=rows, filter=flt, now=now, by=by, strict=strict, cohorts=cohorts)


# ---------------------------------------------------------------- sources

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
    segment: str | None = None     # with --by segment (None: the leads in no segment)


@dataclass
class SourcesReport:
    rows: list[SourceRow]          # per source (per segment and source with --by segment), then the total row
    filter: Any
    mql_stage: str | None
    sql_stage: str | None
    by: str | None = None

    COLUMNS = ("source", "channel", "leads", "reached_mql", "reached_sql", "won", "lost", "won_rate_pct",
               "avg_score", "median_first_response_hours", "spend", "cost_per_lead", "cost_per_won", "segment")

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


def source_infos(rules: RuleSet | None) -> list[SourceInfo]:
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


def source_spellings(sources: Sequence[SourceInfo]) -> dict[str, str]:
    """Trimmed, lower-cased spelling -> canonical source name (the first source naming it wins)."""
    mapping: dict[str, str] = {}
    for s in sources:
        for spelling in (s.name, *s.aliases):
            mapping.setdefault(spelling.strip().lower(), s.name)
    return mapping


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


def mql_sql_stages(stages: Sequence[StageInfo]) -> tuple[int | None, int | None]:
    """The funnel positions counted as reached_mql and reached_sql."""
    funnel = Stages(stages)
    return funnel.named_or_nth("mql", 1), funnel.named_or_nth("sql", 2)


def sources_report_from(stages: Sequence[StageInfo], sources: Sequence[SourceInfo], groups: Iterable[Sequence[Any]],
                        medians: dict[Any, tuple[float | None, ...]], flt: Any) -> SourcesReport:
    """The sources report from its query results: `groups` rows (source, leads, mql, sql, won, lost,
    sum_score, scored) per canonical source, and median first-response hours per source (and ALL)."""
    groups = [tuple(g) for g in groups]
    mql, sql_ = mql_sql_stages(stages)
    info = {s.name: s for s in sources}
    rows = []
    for source, g_leads, g_mql, g_sql, g_won, g_lost, _sum_score, _scored in groups:
        s = info.get(source)
        spend = None
        if s and s.cost:
            spend = round(sum(s.cost[m] for m in months_in_window(flt.since, flt.until, list(s.cost))), 2)
        leads, won_n = int(g_leads), int(g_won or 0)
        rows.append(SourceRow(
            source=source, channel=s.channel if s else None, leads=leads, reached_mql=int(g_mql or 0),
            reached_sql=int(g_sql or 0), won=won_n, lost=int(g_lost or 0), won_rate_pct=rate(won_n, leads),
            avg_score=rnd(float(_sum_score) / int(_scored)) if _scored else None,
            median_first_response_hours=rnd(medians.get(source, (None,))[0]),
            spend=spend, cost_per_lead=round(spend / leads, 2) if spend is not None and leads else None,
            cost_per_won=round(spend / won_n, 2) if spend is not None and won_n else None))
    rows.sort(key=lambda r: (-r.leads, r.source == NONE_LABEL, r.source.lower()))
    leads = sum(r.leads for r in rows)
    won_total = sum(r.won for r in rows)
    spends = [r.spend for r in rows if r.spend is not None]
    spend_total = round(sum(spends), 2) if spends else None
    score_sum = sum(float(g[6] or 0) for g in groups)
    rows.append(SourceRow(
        source=TOTAL_LABEL, channel=None, leads=leads, reached_mql=sum(r.reached_mql for r in rows),
        reached_sql=sum(r.reached_sql for r in rows), won=won_total, lost=sum(r.lost for r in rows),
        won_rate_pct=rate(won_total, leads), avg_score=rnd(score_sum / leads) if leads else None,
        median_first_response_hours=rnd(medians.get(ALL, (None,))[0]), spend=spend_total,
        cost_per_lead=round(spend_total / leads, 2) if spend_total is not None and leads else None,
        cost_per_won=round(spend_total / won_total, 2) if spend_total is not None and won_total else None))
    names = [s.name for s in Stages(stages).funnel]
    return SourcesReport(rows=rows, filter=flt, mql_stage=names[mql] if mql is not None else None,
                         sql_stage=names[sql_] if sql_ is not None else None)


# ---------------------------------------------------------------- owners

@dataclass
class OwnerRow:
    owner: str
    team: str | None
    capacity: int | None
    open_leads: int
    load_pct: float | None
    leads: int
    assigned: int
    contacted: int
    median_first_response_hours: float | None
    sla_breaches: int
    won: int
    won_rate_pct: float | None


@dataclass
class OwnersReport:
    rows: list[OwnerRow]
    filter: Any

    COLUMNS = ("owner", "team", "capacity", "open_leads", "load_pct", "leads", "assigned", "contacted",
               "median_first_response_hours", "sla_breaches", "won", "won_rate_pct")

    def columns(self) -> tuple[str, ...]:
        return self.COLUMNS

    def records(self) -> list[tuple]:
        return [tuple(getattr(r, c) for c in self.COLUMNS) for r in self.rows]


def owners_report_from(stats: dict[Any, Any], open_by: dict[Any, Any], assigned_by: dict[Any, Any],
                       breaches_by: dict[Any, Any], known: dict[Any, Any],
                       medians: dict[Any, tuple[float | None, ...]], flt: Any) -> OwnersReport:
    """The owners report from its query results: `stats` owner -> (leads, contacted, won), counts per
    owner, `known` owner -> (team, capacity) from the owners table, median first-response hours."""
    names = set(stats) | set(assigned_by) | set(breaches_by) | set(open_by)
    if flt.owner:
        names = {n for n in names if n.lower() == flt.owner.strip().lower()}
        names |= {n for n in known if n.lower() == flt.owner.strip().lower()}
    else:
        names |= set(known)
    rows = []
    for name in names:
        k, s = known.get(name), stats.get(name)
        leads, won_n = (int(s[0]), int(s[2] or 0)) if s else (0, 0)
        open_n = int(open_by.get(name, 0))
        capacity = k[1] if k else None
        rows.append(OwnerRow(
            owner=name, team=k[0] if k else None, capacity=capacity, open_leads=open_n,
            load_pct=rate(open_n, capacity) if capacity else None, leads=leads,
            assigned=int(assigned_by.get(name, 0)), contacted=int(s[1] or 0) if s else 0,
            median_first_response_hours=rnd(medians.get(name, (None,))[0]),
            sla_breaches=int(breaches_by.get(name, 0)), won=won_n, won_rate_pct=rate(won_n, leads)))
    rows.sort(key=lambda r: (r.owner == NONE_LABEL, -r.open_leads, -r.leads, r.owner.lower()))
    return OwnersReport(rows=rows, filter=flt)
