"""Scoring: scoring.yaml compiled once, applied to plain lead dicts.

    scorer = Scorer(rules.scoring)
    result = scorer.score(lead, records, now)   # .score .fit_score .engagement_score .grade .breakdown()

How a score is made (docs/rules.md, plus the details it leaves open):

* Every rule whose condition holds adds its `points` (negative points subtract).
* An `activity:` rule counts the lead's activities of that type — only those whose
  fields match its `when` when it has one (the `when` is tested on each activity
  record `{type, at, note, source, **fields}`). Without `each` the rule fires once
  when the count is ≥ 1; with `each: true` it gives `points × count`, capped at
  `max` (for negative points `max` is the floor, e.g. `points: -5, max: -15`).
  Activity types are compared by `words.activity_key`, as `activity log` and
  `activity import` store them (`Demo Requested` and `Web.Visit` are
  `demo_requested` and `web_visit`).
* Each group (fit, engagement) is clamped to its `max` — at the top only: a group
  may go below zero, so negative points can pull the total down.
* Engagement decay multiplies the engagement points by 0.5^(idle / half_life)
  (or the factor of the last `steps` entry reached). `idle` is the time since the
  lead's last activity (the later of `last_activity_at` and its newest activity
  record), falling back to `created_at` when it never did anything. The factor is
  rounded to 3 decimals so re-runs on the same day are stable. Decay is applied to
  the raw engagement points, then the group `max` clamps the result (so a very
  engaged lead stays at the cap for a while before it starts to cool).
* total = fit (clamped) + engagement (decayed, clamped), then clamped to
  `total: {min, max}` and rounded half up to a whole number.
* Grades: fit letter = the letter with the highest threshold ≤ fit points (the
  lowest letter when below all), engagement digit likewise: "A1".

`ScoreResult.breakdown()` is what `leads.explanation` stores.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping

from ..rules.conditions import Condition
from ..words import activity_key

MEMO_SIZE = 20_000  # distinct fired sets remembered (a bound on memory: ~1 KB each)


def band_label(i: int, bands: int) -> str:
    """The label of score band `i` of `bands` over 0-100: band 7 of 10 is "70-79", the last "90-100"."""
    lo = math.ceil(i * 100 / bands)
    hi = math.ceil((i + 1) * 100 / bands) - 1
    return f"{lo}-{100 if i == bands - 1 else hi}"


def round_half_up(x: float) -> int:
    if type(x) is int:
        return x
    return int(math.floor(x + 0.5))


def _num(x: float) -> int | float:
    """Whole floats as ints, others rounded to 2 decimals (for stable, readable JSON)."""
    if isinstance(x, float):
        if x.is_integer():
            return int(x)
        return round(x, 2)
    return x


@dataclass(frozen=True)
class CompiledScoreRule:
    index: int
    name: str
    group: str                      # fit | engagement
    points: float
    test: Any                       # lead-mode predicate (lead, now) or None for activity rules
    activity: str | None            # normalised activity type
    act_test: Any                   # predicate on an activity record, None = every record
    each: bool
    max: float | None


class ScoreResult:
    """A lead's score; `breakdown()` builds the stored explanation (only for leads written)."""

    __slots__ = ("score", "fit_score", "engagement_score", "grade", "sig", "_parts")

    def __init__(self, score, fit_score, engagement_score, grade, sig, parts):
        self.score = score
        self.fit_score = fit_score
        self.engagement_score = engagement_score
        self.grade = grade
        self.sig = sig            # ints/floats only: a process-stable fingerprint of the breakdown
        self._parts = parts

    def breakdown(self) -> dict:
        (scorer, fired, fit_raw, fit_capped, eng_raw, factor, idle_days, eng_decayed, eng_capped,
         total_raw) = self._parts
        groups: dict[str, list] = {"fit": [], "engagement": []}
        for r, p, n in fired:
            item = {"rule": r.name, "points": _num(p)}
            if n is not None:
                item["count"] = n
            groups[r.group].append(item)
        return {
            "fit": groups["fit"],
            "engagement": groups["engagement"],
            "fit_raw": _num(fit_raw),
            "fit_max": scorer.fit_max,
            "fit_capped": _num(fit_capped),
            "engagement_raw": _num(eng_raw),
            "decay_factor": factor,
            "idle_days": idle_days,
            "engagement_decayed": _num(eng_decayed),
            "engagement_max": scorer.eng_max,
            "engagement_capped": _num(eng_capped),
            "total_raw": _num(total_raw),
            "total_min": scorer.total_min,
            "total_max": scorer.total_max,
            "score": self.score,
            "grade": self.grade,
        }


class Scorer:
    """scoring.yaml, compiled for fast evaluation over many leads."""

    def __init__(self, scoring):
        self.config = scoring
        self.rules: list[CompiledScoreRule] = []
        i = 0
        for group_name, group in (("fit", scoring.fit), ("engagement", scoring.engagement)):
            for r in group.rules:
                when: Condition = r.when
                if r.activity:
                    act_test = None if when.always else when.test
                    self.rules.append(CompiledScoreRule(i, r.name, group_name, r.points, None,
                                                        activity_key(r.activity), act_test, r.each, r.max))
                else:
                    self.rules.append(CompiledScoreRule(i, r.name, group_name, r.points, when.test,
                                                        None, None, False, None))
                i += 1
        # A lead without any activity (aggregates or records) fires no activity rule: skip them.
        self.lead_rules = [r for r in self.rules if r.activity is None]
        self.fit_max = scoring.fit.max
        self.eng_max = scoring.engagement.max
        self.decay = scoring.engagement.decay
        self.total_min = scoring.total.min
        self.total_max = scoring.total.max
        self.grades = scoring.grades
        # What the data path must fetch.
        self.lead_fields: set[str] = set()
        for r in list(scoring.fit.rules) + list(scoring.engagement.rules):
            if not r.activity:
                self.lead_fields |= set(r.when.fields)
        self.count_types = {r.activity for r in self.rules if r.activity and r.act_test is None}
        self.record_types = {r.activity for r in self.rules if r.activity and r.act_test is not None}
        self._fit_grades = self._eng_grades = None
        if self.grades is not None:
            self._fit_grades = sorted(((v, k) for k, v in self.grades.fit.items()), key=lambda t: -t[0])
            self._eng_grades = sorted(((v, k) for k, v in self.grades.engagement.items()), key=lambda t: -t[0])
        self._memo: dict[tuple, ScoreResult] = {}

    @property
    def empty(self) -> bool:
        return not self.rules

    @property
    def needs_activity(self) -> bool:
        return bool(self.count_types or self.record_types or self.decay)

    def _fire(self, r: CompiledScoreRule, lead: Mapping, records: Mapping, now: datetime):
        """(points, count) when the rule fires, else None."""
        if r.activity is None:
            return (r.points, None) if r.test(lead, now) else None
        if r.act_test is None:
            agg = lead.get("activity")
            e = agg.get(r.activity) if agg else None
            n = e[0] if e else 0
        else:
            test = r.act_test
            n = 0
            for rec in records.get(r.activity, ()):
                if test(rec, now):
                    n += 1
        if n <= 0:
            return None
        if not r.each:
            return (r.points, n)
        p = r.points * n
        if r.max is not None:
            p = min(p, r.max) if r.points >= 0 else max(p, r.max)
        return (p, n)

    def last_activity(self, lead: Mapping) -> datetime | None:
        last = lead.get("last_activity_at")
        agg = lead.get("activity")
        if agg:
            for _n, at in agg.values():
                if at is not None and (last is None or at > last):
                    last = at
        return last

    def score(self, lead: Mapping, records: Mapping[str, Iterable[Mapping]], now: datetime) -> ScoreResult:
        """The lead's score (shared with every lead that fired the same rules the same way)."""
        fired = []
        sig = []
        fit_raw = 0
        eng_raw = 0
        for r in (self.rules if records or lead.get("activity") else self.lead_rules):
            if r.test is not None:
                if not r.test(lead, now):
                    continue
                p, n = r.points, None
            else:
                hit = self._fire(r, lead, records, now)
                if hit is None:
                    continue
                p, n = hit
            if r.group == "fit":
                fit_raw += p
            else:
                eng_raw += p
            fired.append((r, p, n))
            sig.append((r.index, p, -1 if n is None else n))
        factor = 1.0
        idle_days = None
        if self.decay is not None and eng_raw:
            since = self.last_activity(lead) or lead.get("created_at")
            if since is not None:
                idle = now - since
                factor = round(self.decay.factor(idle), 3)
                idle_days = round(idle.total_seconds() / 86400.0, 1)
        sig.append(factor)
        # Everything below depends only on the fired rules, their points and counts, and the
        # decay: most leads share a few such sets, so each result is built once and shared.
        key = (tuple(sig), idle_days, _negative_zero(idle_days))
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        if len(self._memo) >= MEMO_SIZE:
            self._memo.clear()
        res = self._memo[key] = self._result(fired, key[0], fit_raw, eng_raw, factor, idle_days)
        return res

    def _result(self, fired: list, sig: tuple, fit_raw, eng_raw, factor: float, idle_days) -> ScoreResult:
        """The score, grade and breakdown of one fired set."""
        fit_capped = fit_raw if self.fit_max is None else min(fit_raw, self.fit_max)
        eng_decayed = eng_raw * factor if factor != 1.0 else eng_raw
        eng_capped = eng_decayed if self.eng_max is None else min(eng_decayed, self.eng_max)
        total_raw = fit_capped + eng_capped
        total = total_raw
        if self.total_max is not None and total > self.total_max:
            total = self.total_max
        if self.total_min is not None and total < self.total_min:
            total = self.total_min
        score = round_half_up(total)
        grade = None
        if self._fit_grades is not None:
            grade = _pick(self._fit_grades, fit_capped) + _pick(self._eng_grades, eng_capped)
        return ScoreResult(score, round_half_up(fit_capped), round_half_up(eng_capped), grade, sig,
                           (self, fired, fit_raw, fit_capped, eng_raw, factor, idle_days, eng_decayed,
                            eng_capped, total_raw))


def _negative_zero(x) -> bool:
    """-0.0 equals 0.0 as a key but prints as "-0.0": keep the two apart."""
    return x == 0 and math.copysign(1.0, x) < 0


def _pick(table: list[tuple[float, str]], points: float) -> str:
    """Grade with the highest threshold ≤ points (the lowest grade when below all); `table` sorted high→low."""
    for threshold, grade in table:
        if points >= threshold:
            return grade
    return table[-1][1]
