"""Move a lead to a stage by hand: `leadctl leads stage LEAD STAGE [--reason R] [--force]`.

    set_stage(store, "ada@example.com", "Closed - Converted", reason="signed", force=False,
              now=now, stages=rules.stages)

Stage names and aliases are accepted in any case. A move back in the funnel (by
the same order the rules use: open stages by position, then won, then lost; leaving
a won/lost stage is always "back") is refused unless stages.yaml says
`allow_backward: true` or `force` is given. Every move writes a stage_history row
with cause "manual" and the reason as detail. A move to a lost stage takes its reason
from stages.yaml's `lost_reasons` (a name, label or alias; anything else is refused
with the catalogue) and stores its name as the lead's `lost_reason`; a move elsewhere
clears it, and its reason stays free text.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..errors import UsageError
from ..store.history import record_stage_changes
from ..store.tables import LEADS, STAGE_HISTORY
from .leadref import resolve_lead

HISTORY = STAGE_HISTORY


@dataclass
class StageResult:
    lead_id: int
    from_stage: str | None
    to_stage: str
    changed: bool
    forced: bool = False

    def summary(self) -> str:
        if not self.changed:
            return f"lead {self.lead_id} is already in stage {self.to_stage}"
        forced = " (forced)" if self.forced else ""
        return f"lead {self.lead_id}: {self.from_stage or '-'} → {self.to_stage}{forced}"


def _rank(stages, name: str | None) -> tuple[int, int]:
    if name is None:
        return (-1, -1)
    canonical = stages.resolve(name)
    if canonical is None:
        return (-1, -1)
    for pos, s in enumerate(stages.stages):
        if s.name == canonical:
            return (2 if s.kind == "lost" else 1 if s.kind == "won" else 0, pos)
    return (-1, -1)  # pragma: no cover


def set_stage(store, lead_ref, stage: str, *, reason: str | None = None, force: bool = False,
              now: datetime, stages=None) -> StageResult:
    """Move one lead to `stage` (name or alias) by hand; refuse backward moves unless allowed or forced.

    `stages` is the StagesConfig (or a RuleSet); without it the default funnel is used.
    """
    if stages is None:
        from ..rules.schema import StagesConfig

        stages = StagesConfig()
    elif hasattr(stages, "stages") and not hasattr(stages, "resolve"):
        stages = stages.stages
    target_stage = stages.get(stage)   # UsageError with "did you mean" for unknown stages
    target = target_stage.name
    lost_reason = None
    if target_stage.kind == "lost" and reason is not None:
        lost_reason = stages.check_lost_reason(reason)
    with store.begin() as conn:
        lead_id = resolve_lead(conn, lead_ref)
        current = conn.execute(select(LEADS.c.stage).where(LEADS.c.id == lead_id)).scalar_one()
        cur_name = stages.resolve(current) or current
        if cur_name == target:
            return StageResult(lead_id, current, target, False)
        backward = _rank(stages, target) < _rank(stages, current)
        if backward and not (stages.allow_backward or force):
            final = current is not None and stages.resolve(current) and stages.is_terminal(current)
            what = f"{current} is a final stage" if final else f"{target} is before {current} in the funnel"
            raise UsageError(f"will not move lead {lead_id} back from {current} to {target}: {what} "
                             "and stages only move forward (allow_backward: false)",
                             hint="to move it anyway: leadctl leads stage LEAD STAGE --force --reason '...'")
        conn.execute(LEADS.update().where(LEADS.c.id == lead_id)
                     .values(stage=target, stage_changed_at=now, updated_at=now, lost_reason=lost_reason))
        record_stage_changes(conn, [dict(lead_id=lead_id, from_stage=current, to_stage=target, at=now,
                                         cause="manual", detail=reason)])
    return StageResult(lead_id, current, target, True, forced=backward)
