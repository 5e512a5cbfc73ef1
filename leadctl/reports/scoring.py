"""Scoring calibration: does the score (or grade) predict winning?

- Score bands split 0–100 into `bands` equal bands by integer arithmetic in SQL
  (band = score × bands ÷ 100; scores below 0 fall in the first band, 100 and
  above in the last). Labels are the inclusive score ranges, e.g. `90-100`.
- `won`: reached a won stage (history or current); `won_rate_pct` = won / leads;
  `lift` = the band's won rate ÷ the overall won rate (None when nobody won).
- Grades are as stored; leads without a grade are `(none)`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from sqlalchemy import case, func, select

from ..engine.leadquery import LEADS, LeadFilter
from ..engine.scoring import band_label
from ..errors import UsageError
from .common import NONE_LABEL, Funnel, StageInfo, filtered, lead_facts, rate, report_connection


@dataclass
class ScoringRow:
    dimension: str          # "score" | "grade"
    bucket: str
    leads: int
    won: int
    won_rate_pct: float | None
    lift: float | None


@dataclass
class ScoringReport:
    rows: list[ScoringRow]
    filter: LeadFilter
    bands: int
    leads: int
    won: int
    won_rate_pct: float | None

    COLUMNS = ("dimension", "bucket", "leads", "won", "won_rate_pct", "lift")

    def columns(self) -> tuple[str, ...]:
        return self.COLUMNS

    def records(self) -> list[tuple]:
        return [tuple(getattr(r, c) for c in self.COLUMNS) for r in self.rows]


def scoring_report(store, stages: Sequence[StageInfo], flt: LeadFilter, *, bands: int = 10) -> ScoringReport:
    if not 1 <= bands <= 100:
        raise UsageError(f"must be between 1 and 100, not {bands}", option="--bands")
    funnel = Funnel(stages)
    base, _depth, won = lead_facts(funnel)
    score = LEADS.c.score
    band = case((score < 0, 0), (score >= 100, bands - 1), else_=(score * bands) // 100).label("band")
    grade = func.coalesce(func.nullif(func.trim(LEADS.c.grade), ""), NONE_LABEL).label("grade")
    won_n = func.sum(case((won, 1), else_=0)).label("won")
    where = filtered(flt)
    with report_connection(store) as conn:
        by_band = {int(r.band): r for r in conn.execute(
            select(band, func.count().label("leads"), won_n).select_from(base).where(where).group_by(band))}
        by_grade = list(conn.execute(
            select(grade, func.count().label("leads"), won_n).select_from(base).where(where).group_by(grade)))
    leads = sum(int(r.leads) for r in by_band.values())
    won_total = sum(int(r.won or 0) for r in by_band.values())
    overall = won_total / leads if leads else None

    def row(dimension, bucket, n, w):
        lift = round((w / n) / overall, 2) if n and overall else None
        return ScoringRow(dimension, bucket, n, w, rate(w, n), lift)

    rows = []
    for i in range(bands):
        r = by_band.get(i)
        rows.append(row("score", band_label(i, bands), int(r.leads) if r else 0, int(r.won or 0) if r else 0))
    for r in sorted(by_grade, key=lambda r: (r.grade == NONE_LABEL, r.grade)):
        rows.append(row("grade", r.grade, int(r.leads), int(r.won or 0)))
    return ScoringReport(rows=rows, filter=flt, bands=bands, leads=leads, won=won_total,
                         won_rate_pct=rate(won_total, leads))


# ---------------------------------------------------------------- `report scoring --model`
@dataclass
class ModelComparison:
    """The model's held-out figures (model.yaml `validation`) beside the hand-written score's on the same leads.

    Rows: held-out leads and won, AUC, log loss (the model only: the score is no probability),
    lift at the top 10/20/30 %, then one row per decile (lowest first) with the model's mean
    predicted probability and the score's mean, each beside the decile's actual won rate.
    """

    rows: list[tuple]
    holdout_from: str | None
    fitted_at: str | None
    path: str

    COLUMNS = ("figure", "model", "model_actual", "score", "score_actual")

    def columns(self) -> tuple[str, ...]:
        return self.COLUMNS

    def records(self) -> list[tuple]:
        return list(self.rows)


def model_comparison(rules_dir: str) -> ModelComparison:
    """What `report scoring --model` shows; NotFoundError without a model, or one fitted without a held-out part."""
    from ..errors import NotFoundError
    from ..model.model import load_model, model_path

    model = load_model(rules_dir)
    if model is None:
        raise NotFoundError(f"no model in {rules_dir} (model.yaml)", hint="run `leadctl model fit` first")
    v = model.info.get("validation") or {}
    m, h = v.get("model"), v.get("hand_written_score")
    if not m:
        raise NotFoundError(f"{model_path(rules_dir)} holds no validation figures",
                            hint="run `leadctl model fit` to fit and validate it again")
    h = h or {}
    rows: list[tuple] = [("held-out leads", m.get("leads"), None, h.get("leads"), None),
                         ("won", m.get("won"), None, h.get("won"), None),
                         ("AUC", m.get("auc"), None, h.get("auc"), None),
                         ("log loss", m.get("log_loss"), None, None, None)]
    for k in ("top_10", "top_20", "top_30"):
        rows.append((f"lift {k.replace('_', ' ')} %", (m.get("lift") or {}).get(k), None,
                     (h.get("lift") or {}).get(k), None))
    hand = {c["decile"]: c for c in h.get("calibration") or []}
    for c in m.get("calibration") or []:
        s = hand.get(c["decile"], {})
        rows.append((f"decile {c['decile']}", c["predicted"], c["actual"], s.get("predicted"), s.get("actual")))
    training = model.info.get("training") or {}
    return ModelComparison(rows=rows, holdout_from=v.get("holdout_from"), fitted_at=training.get("fitted_at"),
                           path=model_path(rules_dir))
