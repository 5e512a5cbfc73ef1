"""Multi-touch attribution: which sources and campaigns deserve the credit for leads, qualified leads and wins.

    report = attribution_report(store, stages, sources, LeadFilter(), model="linear")

Definitions (the README's "Attribution" section says the same for users):
- **Touches** of a lead, in time order (ties: the lead's own first): its original source
  and campaign (`leads.source`/`campaign`), at its creation; then every activity that
  carries a `touch_source` or a `campaign` (activity import and `activity log` fill them;
  `utm_source`/`utm_campaign` headers map to them).
- **Conversions**, each worth exactly 1 credit: the lead itself (at creation), reaching a
  qualified stage (`mql`, else the 2nd funnel stage, or any later one) and reaching a won
  stage — at the first time the stage history shows it (else the lead's stage change, else
  its creation). A conversion credits the touches at or before its time; the creation touch
  always counts.
- **Models** over those n touches: `first` (all to the first), `last` (all to the last),
  `linear` (1/n each), `u_shaped` (40% first, 40% last, 20% shared by the others; 1 touch:
  100%, 2: 50/50), `w_shaped` (30% first, 30% the milestone, 30% last, 10% shared by the
  others; the milestone is the creation touch when it lies between the first and the last,
  else the touch at position n // 2 (0-based); up to 3 touches: equal shares), `time_decay`
  (weight 2^(-age / half-life), age = conversion time - touch time, half-life 7 days by
  default; shares proportional to the weights).
- Credits are exact fractions: per conversion they sum to exactly 1, so each column sums
  to exactly the number of conversions. Time-decay weights are rounded to multiples of 2^-40
  (largest remainder) before summing, to keep the fractions small and still exact.
- Sources are canonical (sources.yaml names and aliases); blank is `(none)`. Spend is the
  sources.yaml cost of the months overlapping the window (every month without one);
  `cost_per_won` = spend / won credit.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from functools import lru_cache
from typing import Iterator, Sequence

from sqlalchemy import and_, case, func, or_, select

from ..engine.leadquery import LEADS, LeadFilter
from ..errors import UsageError
from .common import ACTIVITIES, HISTORY, NONE_LABEL, Funnel, StageInfo, filtered, report_connection, source_label
from .output import display
from .sources import SourceInfo, months_in_window

MODELS = ("first", "last", "linear", "u_shaped", "w_shaped", "time_decay")
DEFAULT_HALF_LIFE = timedelta(days=7)
CONVERSIONS = ("leads", "qualified", "won")
_DECAY_UNIT = 2 ** 40
ONE = Fraction(1)


@dataclass(frozen=True)
class Touch:
    at: datetime
    source: str
    campaign: str
    creation: bool = False


def weights(model: str, touches: Sequence[Touch], converted_at: datetime | None = None, *,
            half_life: timedelta = DEFAULT_HALF_LIFE) -> list[Fraction]:
    """Each touch's share of one conversion under `model`: exact fractions summing to 1."""
    n = len(touches)
    if n == 0:
        return []
    if model == "time_decay":
        at = converted_at or touches[-1].at
        return _decay(tuple(max(0.0, (at - t.at).total_seconds()) for t in touches), half_life.total_seconds())
    milestone = next((i for i, t in enumerate(touches) if t.creation), None) if model == "w_shaped" else None
    return list(_positional(model, n, milestone))


@lru_cache(maxsize=4096)
def _positional(model: str, n: int, creation: int | None = None) -> tuple[Fraction, ...]:
    if model == "first":
        return (ONE,) + (Fraction(0),) * (n - 1)
    if model == "last":
        return (Fraction(0),) * (n - 1) + (ONE,)
    if model == "linear" or n <= 2 or (model == "w_shaped" and n == 3):
        return (Fraction(1, n),) * n
    if model == "u_shaped":
        middle = Fraction(1, 5) / (n - 2)
        return (Fraction(2, 5),) + (middle,) * (n - 2) + (Fraction(2, 5),)
    if model == "w_shaped":
        key = creation if creation is not None and 0 < creation < n - 1 else n // 2
        rest = Fraction(1, 10) / (n - 3)
        return tuple(Fraction(3, 10) if i in (0, key, n - 1) else rest for i in range(n))
    raise UsageError(f"unknown attribution model '{model}'", hint="models: " + ", ".join(MODELS))


def _decay(ages: tuple[float, ...], half_life: float) -> list[Fraction]:
    """Shares ∝ 2^(-age/half-life), rounded to multiples of 2^-40 so they sum to exactly 1."""
    return [Fraction(u, _DECAY_UNIT) for u in _decay_units(ages, half_life)]


def _decay_units(ages: tuple[float, ...], half_life: float) -> list[int]:
    """`_decay`'s shares in units of 2^-40 (they add up to exactly 2^40)."""
    if len(ages) == 1:
        return [_DECAY_UNIT]
    raw = [2.0 ** (-age / half_life) if half_life > 0 else 1.0 for age in ages]
    total = sum(raw)
    if total == 0:  # every touch infinitely old: equal shares
        raw, total = [1.0] * len(ages), float(len(ages))
    scaled = [w / total * _DECAY_UNIT for w in raw]
    units = [int(s) for s in scaled]
    short = _DECAY_UNIT - sum(units)
    for i in sorted(range(len(units)), key=lambda i: units[i] - scaled[i])[:short]:
        units[i] += 1
    return units


def parse_half_life(text: str) -> timedelta:
    """`7d`, `36h`, `2w` → a positive duration; UsageError otherwise."""
    from ..rules.durations import parse_duration

    try:
        value = parse_duration(text.strip())
    except Exception:
        raise UsageError(f"cannot read '{text}' as a duration", hint="e.g. 7d, 36h, 2w", option="--half-life") from None
    if value <= timedelta(0):
        raise UsageError(f"must be more than zero, not '{text}'", option="--half-life")
    return value


# ---------------------------------------------------------------- report

@dataclass
class AttributionRow:
    dimension: str           # "source" | "campaign"
    name: str
    touches: int
    leads: Fraction
    qualified: Fraction
    won: Fraction
    spend: float | None
    cost_per_won: float | None


@dataclass
class AttributionReport:
    rows: list[AttributionRow]
    filter: LeadFilter
    model: str
    half_life_days: float | None
    conversions: dict[str, int]   # leads / qualified / won: what each column sums to
    qualified_stage: str | None
    qualified_label: str | None = None  # its display name

    COLUMNS = ("dimension", "name", "touches", "leads", "qualified", "won", "spend", "cost_per_won")

    def columns(self) -> tuple[str, ...]:
        return self.COLUMNS

    def records(self) -> list[tuple]:
        """Rows for CSV/JSON: credits as floats (each column sums to its conversions within 1e-9)."""
        return [(r.dimension, r.name, r.touches, float(r.leads), float(r.qualified), float(r.won), r.spend,
                 r.cost_per_won) for r in self.rows]


def _canonical(sources: Sequence[SourceInfo]):
    lookup: dict[str, str] = {}
    for s in sources:
        for spelling in (s.name, *s.aliases):
            lookup.setdefault(spelling.strip().lower(), s.name)

    def name(value: str | None) -> str:
        text = source_label(value)
        return lookup.get(text.lower(), text) if text != NONE_LABEL else text

    return name


def _conversion_stages(funnel: Funnel) -> tuple[list[str], list[str], str | None]:
    """(qualified stage names, won stage names, the qualified stage's name)."""
    q = funnel.named_or_nth("mql", 1)
    qualified = [s.name for s in funnel.funnel[q:]] if q is not None else []
    return qualified, [s.name for s in funnel.won], funnel.funnel[q].name if q is not None else None


def _lead_rows(conn, funnel: Funnel, flt: LeadFilter) -> Iterator:
    """Per lead (by id): source, campaign, created_at and when it first reached a qualified and a won stage."""
    qualified, won, _ = _conversion_stages(funnel)
    first = (select(HISTORY.c.lead_id.label("lead_id"),
                    func.min(case((HISTORY.c.to_stage.in_(qualified), HISTORY.c.at), else_=None)).label("q_at"),
                    func.min(case((HISTORY.c.to_stage.in_(won), HISTORY.c.at), else_=None)).label("w_at"))
             .group_by(HISTORY.c.lead_id).subquery("firsts"))
    fallback = func.coalesce(LEADS.c.stage_changed_at, LEADS.c.created_at)
    stmt = (select(LEADS.c.id, LEADS.c.source, LEADS.c.campaign, LEADS.c.created_at,
                   func.coalesce(first.c.q_at, case((LEADS.c.stage.in_(qualified), fallback), else_=None)),
                   func.coalesce(first.c.w_at, case((LEADS.c.stage.in_(won), fallback), else_=None)))
            .select_from(LEADS.outerjoin(first, first.c.lead_id == LEADS.c.id))
            .where(filtered(flt)).order_by(LEADS.c.id))
    return iter(conn.execute(stmt.execution_options(yield_per=2000)))


def _touch_rows(conn, flt: LeadFilter) -> Iterator:
    a = ACTIVITIES.c
    has_touch = or_(func.coalesce(func.trim(a.touch_source), "") != "", func.coalesce(func.trim(a.campaign), "") != "")
    stmt = (select(a.lead_id, a.at, a.touch_source, a.campaign)
            .select_from(ACTIVITIES.join(LEADS, LEADS.c.id == a.lead_id))
            .where(and_(has_touch, filtered(flt))).order_by(a.lead_id, a.at, a.id))
    return iter(conn.execute(stmt.execution_options(yield_per=2000)))


def attribution_report(store, stages: Sequence[StageInfo], sources: Sequence[SourceInfo], flt: LeadFilter, *,
                       model: str = "linear", half_life: timedelta = DEFAULT_HALF_LIFE) -> AttributionReport:
    """Credit for leads, qualified leads and wins spread by `model` over each lead's touches, by source and campaign."""
    if model not in MODELS:
        from ..words import did_you_mean

        raise UsageError(f"unknown attribution model '{model}'{did_you_mean(model, MODELS)}",
                         hint="models: " + ", ".join(MODELS), option="--model")
    funnel = Funnel(stages)
    canonical = _canonical(sources)
    decay = model == "time_decay"
    seconds = half_life.total_seconds()
    # Tallies, turned into fractions once at the end (a Fraction sum per touch was most of the time):
    # positional models count (group, kind, n touches, milestone, position); time decay adds 2^-40 units.
    tally: Counter = Counter()
    units: Counter = Counter()
    touched: Counter = Counter()
    conversions = dict.fromkeys(CONVERSIONS, 0)
    with report_connection(store) as conn:
        activity = _touch_rows(conn, flt)
        pending = next(activity, None)
        lone = 0 if model == "w_shaped" else None  # the milestone of a lead whose only touch is its own
        for lead_id, source, campaign, created, q_at, w_at in _lead_rows(conn, funnel, flt):
            while pending is not None and pending[0] < lead_id:
                pending = next(activity, None)
            if pending is None or pending[0] != lead_id:
                # Most leads have no touch activity: their own touch takes each conversion whole.
                names = (("source", canonical(source)), ("campaign", source_label(campaign)))
                for key in names:
                    touched[key] += 1
                for kind, at in (("leads", created), ("qualified", q_at), ("won", w_at)):
                    if at is None:
                        continue
                    conversions[kind] += 1
                    for dimension, name in names:
                        if decay:
                            units[(dimension, name, kind)] += _DECAY_UNIT
                        else:
                            tally[(dimension, name, kind, 1, lone, 0)] += 1
                continue
            touches = [Touch(created, canonical(source), source_label(campaign), creation=True)]
            while pending is not None and pending[0] == lead_id:
                _, at, t_source, t_campaign = pending
                touches.append(Touch(at, canonical(t_source), source_label(t_campaign)))
                pending = next(activity, None)
            if len(touches) > 1:
                touches.sort(key=lambda t: (t.at, not t.creation))
            for t in touches:
                touched[("source", t.source)] += 1
                touched[("campaign", t.campaign)] += 1
            for kind, at in (("leads", created), ("qualified", q_at), ("won", w_at)):
                if at is None:
                    continue
                at = max(at, created)
                counted = [t for t in touches if t.at <= at or t.creation]
                conversions[kind] += 1
                if decay:
                    ages = tuple(max(0.0, (at - t.at).total_seconds()) for t in counted)
                    for t, u in zip(counted, _decay_units(ages, seconds)):
                        units[("source", t.source, kind)] += u
                        units[("campaign", t.campaign, kind)] += u
                    continue
                n = len(counted)
                milestone = next((i for i, t in enumerate(counted) if t.creation), None) \
                    if model == "w_shaped" else None
                positions = (0,) if model == "first" else (n - 1,) if model == "last" else range(n)
                for i in positions:
                    t = counted[i]
                    tally[("source", t.source, kind, n, milestone, i)] += 1
                    tally[("campaign", t.campaign, kind, n, milestone, i)] += 1
    credit: dict[tuple[str, str], dict[str, Fraction]] = defaultdict(lambda: dict.fromkeys(CONVERSIONS, Fraction(0)))
    for (dimension, name, kind, n, milestone, i), count in tally.items():
        credit[(dimension, name)][kind] += _positional(model, n, milestone)[i] * count
    for (dimension, name, kind), u in units.items():
        credit[(dimension, name)][kind] += Fraction(u, _DECAY_UNIT)
    qualified_stage = _conversion_stages(funnel)[2]
    spend = _spend(sources, flt)
    rows = []
    for (dimension, name) in touched:
        c = credit[(dimension, name)]
        cost = spend.get(name) if dimension == "source" else None
        rows.append(AttributionRow(dimension, name, touched[(dimension, name)], c["leads"], c["qualified"], c["won"],
                                   cost, round(cost / float(c["won"]), 2) if cost is not None and c["won"] else None))
    rows.sort(key=lambda r: (r.dimension != "source", -r.won, -r.leads, r.name == NONE_LABEL, r.name))
    return AttributionReport(rows=rows, filter=flt, model=model,
                             half_life_days=half_life / timedelta(days=1) if model == "time_decay" else None,
                             conversions=conversions, qualified_stage=qualified_stage,
                             qualified_label=next((display(st.name, st.label) for st in funnel.funnel
                                                   if st.name == qualified_stage), None))


def _spend(sources: Sequence[SourceInfo], flt: LeadFilter) -> dict[str, float]:
    out = {}
    for s in sources:
        if s.cost:
            out[s.name] = round(sum(s.cost[m] for m in months_in_window(flt.since, flt.until, sorted(s.cost))), 2)
    return out


# ---------------------------------------------------------------- how it is shown

def attribution_view(report: AttributionReport, *, now: datetime | None = None, half_life: str = "7d"):
    """`report attribution` as a reports.output View; charts: each conversion kind's credit split by source
    (then by campaign), as stacked bars."""
    from .output import Column, View, as_of, text, title

    extra = f"model {report.model}" + (f" (half-life {half_life})" if report.model == "time_decay" else "")
    head = title("Attribution", report.filter, extra)
    sub = as_of(now)
    qualified = report.qualified_label or report.qualified_stage or "Qualified"
    columns = [Column("By", numeric=False), Column("Name", numeric=False, shrink=True, min_width=10),
               Column("Touches", priority=3), Column("Leads"), Column(qualified), Column("Won"),
               Column("Spend", priority=2), Column("Cost/won", priority=1)]
    cells = [[r.dimension, r.name, text(r.touches), f"{float(r.leads):,.2f}", f"{float(r.qualified):,.2f}",
              f"{float(r.won):,.2f}", text(r.spend), text(r.cost_per_won)] for r in report.rows]
    sections = {i for i in range(1, len(report.rows)) if report.rows[i].dimension != report.rows[i - 1].dimension}
    spend = [r.spend for r in report.rows if r.dimension == "source" and r.spend is not None]
    totals = {**report.conversions, "spend": round(sum(spend), 2) if spend else None}

    def chart(dimension: str):
        def build():
            from .charts import stacked_bars

            rows = [r for r in report.rows if r.dimension == dimension]
            shown, rest = rows[:9], rows[9:]
            series = {r.name: [float(r.leads), float(r.qualified), float(r.won)] for r in shown}
            if rest:
                series["other"] = [float(sum(r.leads for r in rest)), float(sum(r.qualified for r in rest)),
                                   float(sum(r.won for r in rest))]
            return stacked_bars(["Leads", qualified, "Won"], series, title=f"{head} · by {dimension}",
                                xlabel="Attributed conversions", ylabel="Conversion", subtitle=sub)
        return build

    charts = [(f"Credit by {d}", chart(d)) for d in ("source", "campaign")
              if any(r.dimension == d for r in report.rows)]
    return View("attribution", head, sub, columns, cells, report.columns(), report.records(), totals, None,
                sections, charts)
