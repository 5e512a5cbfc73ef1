"""Why leads are lost: the catalogue's reasons by the stage reached, the source and the owner.

    report = lost_report(store, stages, catalogue, LeadFilter())

- A lost lead is one whose current stage is a lost-kind stage.
- Its reason is the catalogue reason (stages.yaml `lost_reasons`: name, label or alias, any
  case) that `leads.lost_reason` names (`leads stage … lost --reason`, an import's lost-reason
  column); else the one its last move into the lost stage names in the stage history (a
  free-text `--reason` of older releases, or a qualification rule's `lost_reason`/`reason`);
  else `unspecified` — so every lost lead shows a reason of the catalogue or `unspecified`.
- `stage reached`: the furthest funnel stage the lead reached before it was lost (as in the
  funnel report), shown by its display name.
- Rows: per dimension (`reason` overall, most frequent first, then `stage`, `source`, `owner`)
  and group, one row per reason (in catalogue order) with its leads and its share of the group in %.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Sequence

from sqlalchemy import and_, select

from ..engine.leadquery import LEADS, LeadFilter
from .common import HISTORY, NONE_LABEL, Funnel, StageInfo, filtered, is_lost, lead_facts, rate, report_connection
from .output import display
from .sources import SourceInfo, canonical_source

if TYPE_CHECKING:
    from ..rules.loader import RuleSet

UNSPECIFIED = "unspecified"
DIMENSIONS = ("reason", "stage", "source", "owner")


@dataclass
class LostRow:
    dimension: str
    group: str
    reason: str
    reason_label: str
    leads: int
    share_pct: float | None


@dataclass
class LostReport:
    rows: list[LostRow]
    filter: LeadFilter
    lost: int
    reasons: list[tuple[str, str]]     # (name, label) of every catalogue reason, then unspecified

    COLUMNS = ("dimension", "group", "reason", "reason_label", "leads", "share_pct")

    def columns(self) -> tuple[str, ...]:
        return self.COLUMNS

    def records(self) -> list[tuple]:
        return [tuple(getattr(r, c) for c in self.COLUMNS) for r in self.rows]

    def matrix(self, dimension: str) -> tuple[list[str], dict[str, list[int]]]:
        """(groups, reason label → leads per group) of one dimension, for a stacked chart."""
        rows = [r for r in self.rows if r.dimension == dimension]
        groups = list(dict.fromkeys(r.group for r in rows))
        out: dict[str, list[int]] = {}
        for name, label in self.reasons:
            counts = {r.group: r.leads for r in rows if r.reason == name}
            if counts:
                out[label] = [counts.get(g, 0) for g in groups]
        return groups, out


def catalogue_of(rules: RuleSet | None):
    """The rule set's StagesConfig (for its lost reasons), or the default one."""
    from ..rules.schema import StagesConfig

    stages = getattr(rules, "stages", None) if rules is not None else None
    return stages if isinstance(stages, StagesConfig) else StagesConfig()


def reason_in(text: str | None, catalogue) -> str | None:
    """The catalogue reason a stored reason or a stage change's detail names, else None.

    A rule's detail reads `qualification: to lost (…): no_budget[: more]`: the whole text is
    tried, then every tail after ': ' and its first part.
    """
    if not text:
        return None
    parts = text.split(": ")
    for i in range(len(parts)):
        for candidate in (": ".join(parts[i:]), parts[i]):
            found = catalogue.lost_reason(candidate)
            if found is not None:
                return found.name
    return None


def lost_report(store, stages: Sequence[StageInfo], catalogue, flt: LeadFilter,
                sources: Sequence[SourceInfo] = ()) -> LostReport:
    """Lost leads by reason, and each reason by the stage reached, the source and the owner."""
    funnel = Funnel(stages)
    base, depth, _won = lead_facts(funnel)
    last_move = HISTORY.alias("last_move")
    join = base.outerjoin(last_move, and_(last_move.c.lead_id == LEADS.c.id, last_move.c.left_at.is_(None),
                                          last_move.c.to_stage == LEADS.c.stage))
    stmt = (select(LEADS.c.lost_reason, last_move.c.detail, depth.label("depth"),
                   canonical_source(sources).label("source"), LEADS.c.owner)
            .select_from(join).where(and_(filtered(flt), is_lost(funnel))))
    counts: dict[str, Counter] = {d: Counter() for d in DIMENSIONS}
    labels = {i: display(s.name, s.label) for i, s in enumerate(funnel.funnel)}
    lost = 0
    with report_connection(store) as conn:
        for stored, detail, reached, source, owner in conn.execute(stmt):
            reason = reason_in(stored, catalogue) or reason_in(detail, catalogue) or UNSPECIFIED
            lost += 1
            counts["reason"][("all", reason)] += 1
            counts["stage"][(labels.get(int(reached or 0), NONE_LABEL), reason)] += 1
            counts["source"][(source or NONE_LABEL, reason)] += 1
            counts["owner"][((owner or "").strip() or NONE_LABEL, reason)] += 1
    reasons = [(r.name, r.display) for r in catalogue.lost_reasons] + [(UNSPECIFIED, "Unspecified")]
    order = {name: i for i, (name, _) in enumerate(reasons)}
    label_of = dict(reasons)
    stage_order = {label: i for i, label in labels.items()}
    rows: list[LostRow] = []
    for dimension in DIMENSIONS:
        totals: Counter = Counter()
        for (group, _reason), n in counts[dimension].items():
            totals[group] += n

        def key(item, dimension=dimension, totals=totals):
            (group, reason), n = item
            first = stage_order.get(group, len(stage_order)) if dimension == "stage" else -totals[group]
            if dimension == "reason":  # the overall count: the most frequent reason first, unspecified last
                return (0, False, group, (reason == UNSPECIFIED, -n, order[reason]))
            return (first, group == NONE_LABEL, group, (False, 0, order[reason]))

        for (group, reason), n in sorted(counts[dimension].items(), key=key):
            rows.append(LostRow(dimension, group, reason, label_of[reason], n, rate(n, totals[group])))
    return LostReport(rows=rows, filter=flt, lost=lost, reasons=reasons)


# ---------------------------------------------------------------- how it is shown

def lost_view(report: LostReport, *, now: datetime | None = None):
    """`report lost` as a reports.output View; charts: reasons by stage reached, source and owner (stacked bars)."""
    from .output import Column, View, as_of, text, title

    head = title("Lost reasons", report.filter, f"{report.lost:,} lost leads")
    sub = as_of(now)
    columns = [Column("By", numeric=False), Column("Group", numeric=False, shrink=True, min_width=10),
               Column("Reason", numeric=False, shrink=True, min_width=10), Column("Leads"), Column("Share %"),
               Column("Share", bar=True, bar_max=16)]
    cells = [[r.dimension, r.group, r.reason_label, text(r.leads), text(r.share_pct),
              (r.share_pct or 0) / 100.0 or None] for r in report.rows]
    sections = {i for i in range(1, len(report.rows)) if report.rows[i].dimension != report.rows[i - 1].dimension}

    def chart(dimension: str, label: str):
        def build():
            from .charts import stacked_bars

            groups, series = report.matrix(dimension)
            return stacked_bars(groups, series, title=f"{head} · by {label}", xlabel="Lost leads",
                                ylabel=label[:1].upper() + label[1:], subtitle=sub)
        return build

    charts = [(f"Reasons by {label}", chart(d, label))
              for d, label in (("stage", "stage reached"), ("source", "source"), ("owner", "owner"))
              if any(r.dimension == d for r in report.rows)]
    return View("lost", head, sub, columns, cells, report.columns(), report.records(), {"lost": report.lost}, None,
                sections, charts)
