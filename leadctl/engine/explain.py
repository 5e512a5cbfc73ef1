"""Why a lead has its score, grade, temperature, stage, owner and tasks — from what is stored.

    info = explain_lead(store, rules, "ada@example.com", now)
    info["score"]["fit"]        # [{"rule": "Decision maker", "points": 20}, ...]

Nothing is recomputed: the score breakdown is the one `process` stored with the
lead (`leads.explanation`), so it always agrees with the stored score. When the
rules changed since (the stored fingerprint's rule digest no longer matches),
`score.stale` says so and `leadctl process` refreshes it.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from ..fields import PROFILE
from ..store.tables import ACTIVITIES, ASSIGNMENTS, FOLLOWUPS, LEADS, STAGE_HISTORY
from .leadref import resolve_lead
from .process import rules_digest

if TYPE_CHECKING:
    from ..rules.loader import RuleSet
    from ..store.db import Store

SCORE_KEYS = ("fit", "engagement", "fit_raw", "fit_max", "fit_capped", "engagement_raw", "decay_factor", "idle_days",
              "engagement_decayed", "engagement_max", "engagement_capped", "total_raw", "total_min", "total_max",
              "score", "grade")


def _iso(v: Any) -> Any:
    return v.isoformat(timespec="seconds") if isinstance(v, datetime) else v


def explain_lead(store: Store, rules: RuleSet, lead_ref: str | int, now: datetime) -> dict:
    """Everything that explains one lead, as a JSON-ready dict with stable keys:
    lead, score, temperature, stage, stage_history, assignments, followups, activity,
    followups_skipped when steps were skipped (and why), and predicted when the rules folder has a model.
    """
    with store.connect() as conn:
        lead_id = resolve_lead(conn, lead_ref)
        row = conn.execute(select(*(LEADS.c[c] for c in PROFILE), LEADS.c.explanation)
                           .where(LEADS.c.id == lead_id)).mappings().one()
        expl = row["explanation"] or {}
        h = STAGE_HISTORY
        history = [
            {"at": _iso(r.at), "from": r.from_stage, "to": r.to_stage, "cause": r.cause, "detail": r.detail}
            for r in conn.execute(select(h.c.at, h.c.from_stage, h.c.to_stage, h.c.cause, h.c.detail)
                                  .where(h.c.lead_id == lead_id).order_by(h.c.at, h.c.id))
        ]
        a = ASSIGNMENTS
        assignments = [
            {"at": _iso(r.at), "owner": r.owner, "previous_owner": r.previous_owner, "rule": r.rule,
             "strategy": r.strategy, "reason": r.reason, "manual": bool(r.manual)}
            for r in conn.execute(select(a).where(a.c.lead_id == lead_id).order_by(a.c.at, a.c.id))
        ]
        f = FOLLOWUPS
        followups = [
            {"id": r.id, "due_at": _iso(r.due_at), "action": r.action, "kind": r.kind, "cadence": r.cadence,
             "step": r.step, "owner": r.owner, "note": r.note}
            for r in conn.execute(select(f).where(f.c.lead_id == lead_id, f.c.status == "pending")
                                  .order_by(f.c.due_at, f.c.id))
        ]
        act = ACTIVITIES
        activity = [
            {"type": t, "count": n, "last": _iso(last)}
            for t, n, last in conn.execute(select(act.c.type, func.count(), func.max(act.c.at))
                                           .where(act.c.lead_id == lead_id).group_by(act.c.type)
                                           .order_by(act.c.type))
        ]
        from ..model.explain import explain_prediction  # the model's top factors (None without model.yaml)

        predicted = explain_prediction(conn, rules, lead_id, now)
    lead = {k: _iso(row[k]) for k in PROFILE}
    lead["do_not_contact"] = bool(lead["do_not_contact"])
    lead["erased"] = row["erased_at"] is not None
    score = {k: expl.get(k) for k in SCORE_KEYS}
    score["score"] = row["score"]
    score["grade"] = row["grade"]
    score["computed_at"] = expl.get("at")
    score["stored"] = bool(expl)
    score["stale"] = _stale(expl, rules) if expl else None
    stage_rule = expl.get("stage_rule")
    stage = {"value": row["stage"], "changed_at": _iso(row["stage_changed_at"]), "rule": stage_rule}
    if stage_rule:
        stage["rule_applies"] = (rules.stages.resolve(row["stage"]) or row["stage"]) == stage_rule.get("to")
    out = {
        "lead": lead,
        "score": score,
        "temperature": {"value": row["temperature"], "rule": expl.get("temperature_rule")},
        "stage": stage,
        "stage_history": history,
        "assignments": assignments,
        "followups": followups,
        "activity": activity,
    }
    with store.connect() as conn:  # steps not done, and why (consent per channel): only when there are some
        skipped = [{"id": r.id, "due_at": _iso(r.due_at), "action": r.action, "cadence": r.cadence, "step": r.step,
                    "reason": r.note}
                   for r in conn.execute(select(f).where(f.c.lead_id == lead_id, f.c.status == "skipped")
                                         .order_by(f.c.due_at, f.c.id))]
    if skipped:
        out["followups_skipped"] = skipped
    if predicted is not None:  # with a model (rules/model.yaml): its probability and top factors
        out["predicted"] = predicted
    return out


def _stale(expl: dict, rules: RuleSet) -> bool:
    """Whether the stored breakdown came from other scoring/qualification rules than `rules`."""
    stored = expl.get("digest")
    if stored is None:
        return False
    return stored != format(rules_digest(rules), "x")
