"""What a rule change would do to the store, before anyone applies it: `leadctl rules diff NEWDIR`.

    result = diff_rules(store, current_rules, new_rules, now, examples=3)
    result.transitions["stage"]   # [Transition("new", "mql", 97, [{"id": 4, "email": ...}, ...]), ...]

The full pipeline (scoring, qualification, routing, follow-ups) runs with the NEW
rules inside one transaction that is rolled back: nothing is written. Every lead's
stored values ("before") are compared with the new ones ("after") on five
dimensions — score band (10 points wide), grade, temperature, stage and owner —
and each dimension gets a table of transitions (from → to: count) with a few
example leads. "Before" is what the store holds now: when the store is stale
(the clock moved since the last `leadctl process`), run `process` first so the
diff shows only what the rules change. `rules` lists the rules added, removed
or changed between the two folders.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from .context import WRITABLE_COLUMNS
from .process import process_leads
from .scoring import band_label

DIMENSIONS = ("score_band", "grade", "temperature", "stage", "owner")
_IDX = {c: WRITABLE_COLUMNS.index(c) for c in ("score", "grade", "temperature", "stage", "owner")}


def score_band(score) -> str | None:
    """The 10-point band of `report scoring`: 73 → "70-79", 100 → "90-100", -5 → "0-9"."""
    if score is None:
        return None
    return band_label(min(max(int(score) * 10 // 100, 0), 9), 10)


@dataclass
class Transition:
    from_: str | None
    to: str | None
    count: int
    examples: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"from": self.from_, "to": self.to, "count": self.count, "examples": self.examples}


@dataclass
class DiffResult:
    leads: int
    changed: int                                   # leads with a change on any dimension
    transitions: dict[str, list[Transition]]       # dimension → transitions, most common first
    rules: dict[str, dict[str, list[str]]]         # file → added / removed / changed rule names
    counts: dict = field(default_factory=dict)     # the dry run's process counts

    def to_dict(self) -> dict:
        return {
            "leads": self.leads,
            "changed": self.changed,
            "rules": self.rules,
            "transitions": {d: [t.to_dict() for t in self.transitions.get(d, [])] for d in DIMENSIONS},
            "process": self.counts,
        }


def _named(items) -> dict[str, str]:
    out = {}
    for i, it in enumerate(items):
        name = getattr(it, "name", None) or getattr(it, "label", None) or f"#{i + 1}"
        out[str(name)] = repr(it)
    return out


def rule_changes(current, new) -> dict[str, dict[str, list[str]]]:
    """Names of rules added, removed or changed, per file (only files with differences)."""
    pairs = {
        "stages.yaml": (current.stages.stages, new.stages.stages),
        "scoring.yaml": (current.scoring.rules, new.scoring.rules),
        "qualification.yaml": (tuple(current.qualification.temperature) + tuple(current.qualification.stages),
                               tuple(new.qualification.temperature) + tuple(new.qualification.stages)),
        "routing.yaml": (tuple(current.routing.owners) + tuple(current.routing.rules) + tuple(current.routing.sla),
                         tuple(new.routing.owners) + tuple(new.routing.rules) + tuple(new.routing.sla)),
        "followups.yaml": (tuple(current.followups.cadences) + tuple(current.followups.inactivity),
                           tuple(new.followups.cadences) + tuple(new.followups.inactivity)),
    }
    out = {}
    for fname, (a, b) in pairs.items():
        na, nb = _named(a), _named(b)
        added = [n for n in nb if n not in na]
        removed = [n for n in na if n not in nb]
        changed = [n for n in nb if n in na and na[n] != nb[n]]
        if added or removed or changed:
            out[fname] = {"added": added, "removed": removed, "changed": changed}
    # Caps, decay, grades and total are not rules but change scores all the same.
    for part in ("total", "grades"):
        if repr(getattr(current.scoring, part)) != repr(getattr(new.scoring, part)):
            out.setdefault("scoring.yaml", {"added": [], "removed": [], "changed": []})["changed"].append(part)
    for grp in ("fit", "engagement"):
        ga, gb = getattr(current.scoring, grp), getattr(new.scoring, grp)
        if ga.max != gb.max or getattr(ga, "decay", None) != getattr(gb, "decay", None):
            out.setdefault("scoring.yaml", {"added": [], "removed": [], "changed": []})["changed"].append(
                f"{grp} max/decay")
    return out


def diff_rules(store, current_rules, new_rules, now: datetime, examples: int = 3, *, steps=None) -> DiffResult:
    """Run the pipeline with `new_rules` in a rolled-back transaction and tabulate what would change."""
    tables: dict[str, dict[tuple, list]] = {d: defaultdict(lambda: [0, []]) for d in DIMENSIONS}
    seen = {"leads": 0, "changed": 0}

    def observe(before: list[tuple], after: list[dict]) -> None:
        for old, lead in zip(before, after):
            seen["leads"] += 1
            pairs = (
                ("score_band", score_band(old[_IDX["score"]]), score_band(lead.get("score"))),
                ("grade", old[_IDX["grade"]], lead.get("grade")),
                ("temperature", old[_IDX["temperature"]], lead.get("temperature")),
                ("stage", old[_IDX["stage"]], lead.get("stage")),
                ("owner", old[_IDX["owner"]], lead.get("owner")),
            )
            any_change = False
            for dim, a, b in pairs:
                if a != b:
                    any_change = True
                    cell = tables[dim][(a, b)]
                    cell[0] += 1
                    if len(cell[1]) < examples:
                        cell[1].append({"id": lead["id"], "email": lead.get("email")})
            if any_change:
                seen["changed"] += 1

    result = process_leads(store, new_rules, now=now, dry_run=True, observe=observe, steps=steps)
    transitions = {
        dim: [Transition(a, b, n, ex) for (a, b), (n, ex) in
              sorted(cells.items(), key=lambda kv: (-kv[1][0], str(kv[0][0]), str(kv[0][1])))]
        for dim, cells in tables.items()
    }
    return DiffResult(seen["leads"], seen["changed"], transitions, rule_changes(current_rules, new_rules),
                      dict(result.counts))
