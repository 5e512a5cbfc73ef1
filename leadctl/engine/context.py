"""What one `process` run shares with its steps, and the contract a step implements.

`process_leads` (engine/process.py) streams the leads in chunks of ~5,000 ordered by
id and, for every chunk, runs the pipeline in this order:

    scoring → qualification (temperature, stage) → routing → follow-ups

Scoring and qualification are built in. Routing (`leadctl/engine/routing.py`, class
`RoutingStep`) and follow-ups (`leadctl/engine/followups.py`, class `FollowupStep`)
are *steps*: objects with the three methods of `Step`. `process.load_steps` builds
them once per run (a missing step module is an import error, never a skipped step).

The contract, as the step authors code against it:

* `start(ctx)` — once per run, before the first chunk, on `ctx.conn` (a SQLAlchemy
  Connection inside a transaction): load owners, open-lead counts, rotation state;
  run set-wise checks such as SLA breaches. Write side tables here if needed.
* `chunk(ctx, leads)` — once per chunk, after scoring and qualification of that
  chunk, with `ctx.conn` inside *that chunk's* transaction (each chunk commits on
  its own; a dry run uses one transaction for everything and rolls it back).
  `leads` is a list of plain dicts, one per lead, holding:
    - `id`, and every lead column any rule condition of the rule set reads, plus
      always: stage, stage_changed_at, temperature, score, fit_score,
      engagement_score, grade, owner, team, assigned_at, assigned_manually,
      created_at, last_activity_at, last_contacted_at, do_not_contact, email;
    - `attributes` (dict, {} when empty) when any condition reads `attributes.*`;
    - `activity`: {type: (count, last_at)} when any rule reads activity facts
      (types as `words.activity_key` spells them), else {};
    - extra columns a step asks for through its optional `columns` attribute.
  All datetimes are naive UTC; values are already updated by scoring and
  qualification (score, grade, temperature, stage). A step *mutates the dicts in
  place* — e.g. sets `owner`, `team`, `assigned_at` — and writes its own side
  tables (assignments, followups) with `ctx.conn`. `process` then writes back
  every lead whose values differ from what was read, in one executemany UPDATE,
  for the columns in `WRITABLE_COLUMNS` plus any a step lists in its optional
  `writes` attribute. A step must not UPDATE the leads table itself for those
  columns (its change would be overwritten by the write-back).
* `finish(ctx)` — once per run, after the last chunk, in a transaction of its own
  (or the dry run's): persist rotation state, cursors.

Steps count what they did in `ctx.counts` (a Counter). The summary line reads
"scored", "stage_changes", "assigned" and "tasks_created"; other keys appear in
`ProcessResult.counts` and `to_dict()`. A step that has nothing to do for a chunk
(no rules) should return quickly: it runs on every chunk.

Optional step attributes (read with getattr, default empty):
    columns: frozenset[str]   extra lead columns to select into the dicts
    writes:  frozenset[str]   extra lead columns the step may change (write-back)
    needs_activity: bool      ask for `activity` aggregates even if no condition reads them
    digest: str               changes when what the step computes changes (a new model): the next
                              run evaluates every lead again
and optional methods:
    bind(rules)               before the run plans its reads: set the attributes above from the rules
    before(ctx, leads)        per chunk, *before* scoring and qualification (the model's `predicted`,
                              leadctl/model/step.py, so conditions read this run's value)
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..rules.loader import RuleSet

# Lead columns that `process` writes back when the pipeline changed them.
WRITABLE_COLUMNS = (
    "score", "fit_score", "engagement_score", "grade", "temperature", "stage", "stage_changed_at",
    "owner", "team", "assigned_at",
)


@dataclass
class ProcessContext:
    """The state of one `process` run, handed to every step."""

    conn: Any                      # sqlalchemy.engine.Connection in the current transaction
    rules: RuleSet
    now: datetime                  # naive UTC: the clock for decay, SLAs, due times
    dry_run: bool = False
    counts: Counter = field(default_factory=Counter)
    # Per-lead examples of what changed (capped), for summaries: dicts with id and fields.
    changes: list = field(default_factory=list)
    # Free room for steps to keep run-wide state between start/chunk/finish.
    state: dict = field(default_factory=dict)

    MAX_CHANGES = 50

    def note_change(self, lead_id: int, **what: Any) -> None:
        """Keep an example of a change (only the first MAX_CHANGES)."""
        if len(self.changes) < self.MAX_CHANGES:
            self.changes.append({"id": lead_id, **what})


@runtime_checkable
class Step(Protocol):
    """A stage of the pipeline after scoring and qualification (routing, follow-ups)."""

    def start(self, ctx: ProcessContext) -> None:
        """Once per run: load owners, counts, rotation state; run set-wise checks (SLA)."""

    def chunk(self, ctx: ProcessContext, leads: list[dict]) -> None:
        """Once per chunk: mutate lead dicts in place and write side tables."""

    def finish(self, ctx: ProcessContext) -> None:
        """Once per run: persist rotation state."""
