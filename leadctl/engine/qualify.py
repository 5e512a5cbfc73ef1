"""Qualification: temperature and stage from qualification.yaml and stages.yaml.

    q = Qualifier(rules.qualification, rules.stages)
    temp, temp_rule = q.temperature(lead, now)
    move = q.stage(lead, now)        # StageMove(to, rule, detail, applied, why) or None

* Temperature: the first rule whose `when` holds names it. With no temperature
  rules the lead's temperature is left as it is; with rules and no match it is
  cleared.
* Stage: every matching rule proposes its `to` stage and the furthest proposal
  wins. "Furthest" ranks lost-kind stages (terminal, reachable from anywhere)
  above won-kind stages, won-kind above every open stage, and open stages by
  their position in stages.yaml; ties go to the rule listed first.
* Rules never move a lead out of a terminal (won/lost) stage. With
  `allow_backward: false` (the default) they only move it forward — a proposal at
  or behind the current stage changes nothing. With `allow_backward: true` the
  winning proposal is applied even when it is behind. A current stage that is not
  in stages.yaml ranks before every stage, so any proposal moves it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

_OPS = {"eq": "=", "ne": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "in": "in", "not_in": "not in",
        "between": "between", "contains": "contains", "not_contains": "does not contain",
        "starts_with": "starts with", "ends_with": "ends with", "matches": "matches",
        "within": "within", "older_than": "older than", "before": "before", "after": "after"}


def describe_condition(spec: Any, limit: int = 120) -> str:
    """A short human reading of a `when:` spec: `score ≥ 70 and attributes.budget in [50k-100k, >100k]`."""
    text = _describe(spec)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _val(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_val(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _describe(spec: Any) -> str:
    if spec is None:
        return "always"
    if isinstance(spec, (list, tuple)):
        return " and ".join(_describe(s) for s in spec)
    if not isinstance(spec, dict):
        return _val(spec)
    parts = []
    for key, value in spec.items():
        if key in ("all", "any"):
            items = value if isinstance(value, (list, tuple)) else [value]
            joined = (" and " if key == "all" else " or ").join(_describe(i) for i in items)
            parts.append(f"({joined})" if len(items) > 1 else joined)
        elif key == "not":
            parts.append(f"not ({_describe(value)})")
        elif isinstance(value, dict):
            for op, arg in value.items():
                if op == "exists":
                    parts.append(f"{key} {'exists' if arg in (True, 'true', 'yes') else 'missing'}")
                elif op == "missing":
                    parts.append(f"{key} {'missing' if arg in (True, 'true', 'yes') else 'exists'}")
                else:
                    parts.append(f"{key} {_OPS.get(op, op)} {_val(arg)}")
        elif isinstance(value, (list, tuple)):
            parts.append(f"{key} in {_val(value)}")
        else:
            parts.append(f"{key} = {_val(value)}")
    return " and ".join(parts) if parts else "always"


@dataclass(frozen=True)
class StageMove:
    """The outcome of the stage rules for one lead."""

    to: str            # the winning proposal
    rule: str          # its label
    index: int         # its position in qualification.yaml
    detail: str        # for stage_history: "qualification: to sql (score ≥ 70 and …)"
    applied: bool      # whether the lead moves
    why: str           # why not, when not applied


class Qualifier:
    def __init__(self, qualification, stages):
        self.stages = stages
        self.temps = [(t.name, t.when.test) for t in qualification.temperature]
        self.rules = []
        for i, r in enumerate(qualification.stages):
            to = stages.resolve(r.to) or r.to
            label = r.label
            cond = describe_condition(r.when.source)
            detail = f"qualification: {label} ({cond})" if label != f"to {to}" else f"qualification: to {to} ({cond})"
            if r.reason:
                detail += f": {r.reason}"
            self.rules.append((i, to, label, r.when.test, detail))
        self.allow_backward = stages.allow_backward
        rank = {}
        terminal = set()
        for pos, s in enumerate(stages.stages):
            kind_rank = 2 if s.kind == "lost" else 1 if s.kind == "won" else 0
            rank[s.name] = (kind_rank, pos)
            if s.terminal:
                terminal.add(s.name)
        self.rank = rank
        self.terminal = terminal
        self._canon: dict[Any, str | None] = {}
        self._moves: dict[tuple, StageMove] = {}
        self.fields: set[str] = set()
        for t in qualification.temperature:
            self.fields |= set(t.when.fields)
        for r in qualification.stages:
            self.fields |= set(r.when.fields)

    def temperature(self, lead: Mapping, now) -> tuple[str | None, str | None, int]:
        """(temperature, rule name, rule index) — (current, None, -1) when there are no rules."""
        if not self.temps:
            return lead.get("temperature"), None, -1
        for i, (name, test) in enumerate(self.temps):
            if test(lead, now):
                return name, name, i
        return None, None, -2

    def canonical(self, stage: Any) -> str | None:
        if stage is None:
            return None
        try:
            return self._canon[stage]
        except KeyError:
            c = self._canon[stage] = self.stages.resolve(stage)
            return c

    def stage(self, lead: Mapping, now) -> StageMove | None:
        """The winning stage proposal (applied or not), or None when no rule matches."""
        best = None
        best_rank = None
        for i, to, label, test, detail in self.rules:
            if test(lead, now):
                r = self.rank.get(to, (-1, -1))
                if best is None or r > best_rank:
                    best, best_rank = (i, to, label, detail), r
        if best is None:
            return None
        stage = lead.get("stage")
        # One StageMove per (rule, stage) pair, shared by every lead it applies to.
        key = (best[0], stage)
        try:
            return self._moves[key]
        except KeyError:
            move = self._moves[key] = self._move(best, best_rank, stage)
            return move
        except TypeError:  # a stage value that cannot be a key
            return self._move(best, best_rank, stage)

    def _move(self, best: tuple, best_rank: Any, stage: Any) -> StageMove:
        i, to, label, detail = best
        current = self.canonical(stage)
        if current == to:
            return StageMove(to, label, i, detail, False, f"already {to}")
        if current in self.terminal:
            return StageMove(to, label, i, detail, False, f"{current} is final; rules do not move it")
        cur_rank = self.rank.get(current, (-1, -1)) if current else (-1, -1)
        if best_rank <= cur_rank and not self.allow_backward:
            return StageMove(to, label, i, detail, False,
                             f"{to} is not after {current} and stages only move forward (allow_backward: false)")
        return StageMove(to, label, i, detail, True, "")
