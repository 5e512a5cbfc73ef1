"""The `process` step that stores each lead's `predicted` probability from `rules/model.yaml`.

It runs before scoring and qualification (`before`), so their conditions, routing and
cadences all read this run's value. Without a model file it clears any stored
`predicted` (a chance from a model that is gone would mislead the conditions reading it).
"""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from .facts import columns_for, reads_activity
from .model import Model, load_model, sigmoid

if TYPE_CHECKING:
    from ..rules.loader import RuleSet


class PredictStep:
    """Sets lead["predicted"] (0–1, rounded to 12 places so re-runs compare equal)."""

    def __init__(self) -> None:
        self.model: Model | None = None
        self.columns: frozenset[str] = frozenset()
        self.writes: frozenset[str] = frozenset()
        self.needs_activity = False
        self.digest = ""   # changes with the model: a run after a new model evaluates every lead again

    def bind(self, rules: RuleSet) -> None:
        """Read the rules folder's model (before the pipeline plans its reads)."""
        self.model = load_model(rules.directory)
        self.columns = self.writes = frozenset({"predicted"})
        if self.model is not None:
            self.digest = hashlib.sha1(repr(self.model.to_dict()).encode()).hexdigest()[:16]
            self.columns = frozenset(columns_for(self.model.facts) | {"predicted"})
            self.needs_activity = reads_activity(self.model.facts)

    def start(self, ctx) -> None:
        pass

    def before(self, ctx, leads: list[dict]) -> None:
        """Once per chunk, before scoring: compute every lead's probability."""
        model = self.model
        if model is None:
            cleared = 0
            for lead in leads:
                if lead.get("predicted") is not None:
                    lead["predicted"] = None
                    cleared += 1
            if cleared:
                ctx.counts["predictions_cleared"] += cleared
            return
        changed = 0
        for lead, z in zip(leads, model.logits(leads, ctx.now)):
            p = round(sigmoid(z), 12)
            if p != lead.get("predicted"):
                changed += 1
            lead["predicted"] = p
        ctx.counts["predicted"] += len(leads)
        ctx.counts["predictions_changed"] += changed

    def chunk(self, ctx, leads: list[dict]) -> None:
        pass

    def finish(self, ctx) -> None:
        pass
