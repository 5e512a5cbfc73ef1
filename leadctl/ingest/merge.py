"""The merge policy of an import: a new lead's values, folding a row into a lead, stage moves."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from ..errors import UsageError
from . import normalize as N
from .rows import Row


class MergePolicy:
    """How rows become a lead's values, for one import (its stages, time and batch)."""

    def __init__(self, stages, now: datetime, batch_id: int | None):
        self.stages = stages
        self.now = now
        self.first_stage = stages.first
        self.batch_id = batch_id

    def may_move(self, current: str | None, target: str) -> bool:
        """Imports move an open lead forward, and record outcomes: a file that says a deal was won
        or lost is the source system's word, so a terminal stage is always taken. Nothing moves a
        lead back to an earlier open stage, or out of won/lost into an open one."""
        stages = self.stages
        if current is None or stages.allow_backward:
            return True
        try:
            ci, ti = stages.index(current), stages.index(target)
        except UsageError:  # a stage no longer in stages.yaml: nothing to compare with
            return True
        if stages.is_terminal(target):
            return True
        return ti > ci and not stages.is_terminal(current)

    def new_values(self, row: Row) -> dict[str, Any]:
        """A new lead's values from its first row."""
        v = dict(row.values)
        v.setdefault("created_at", self.now)
        v["updated_at"] = self.now
        v["stage"] = row.stage or self.first_stage
        v["do_not_contact"] = bool(v.get("do_not_contact") or False)
        v["attributes"] = row.attributes or None
        v["email_domain"] = N.email_domain(v["email"]) if v.get("email") else None
        v["batch_id"] = self.batch_id
        return v

    def merge(self, current: dict[str, Any], row: Row) -> dict[str, Any]:
        """Fold a row into a lead: new non-empty values win, empty values never overwrite,
        the earliest creation time stays, and the stage only moves forward (or to a terminal stage).

        The external id is an identity, not a value: the lead keeps its first one (outcome files
        of that system match on it), and another system's id is kept in `attributes.other_external_ids`.
        """
        merged = dict(current)
        other_id = None
        for k, v in row.values.items():
            if v is None or v == "":
                continue
            if k == "do_not_contact" and not v:
                continue  # an opt-out stays: only a person (or `forget`) takes it back
            if k == "created_at" and current.get(k) is not None and v >= current[k]:
                continue
            if k == "external_id" and current.get(k) and v != current[k]:
                other_id = v
                continue
            merged[k] = v
        if row.attributes or other_id:
            attributes = {**(current.get("attributes") or {}), **row.attributes}
            if other_id:
                known = [x for x in str(attributes.get("other_external_ids") or "").split(", ") if x]
                if other_id not in known:
                    attributes["other_external_ids"] = ", ".join([*known, other_id])
            merged["attributes"] = attributes
        if merged.get("email") != current.get("email"):
            merged["email_domain"] = N.email_domain(merged["email"])
        if row.stage and row.stage != current.get("stage") and self.may_move(current.get("stage"), row.stage):
            merged["stage"] = row.stage
        return merged
