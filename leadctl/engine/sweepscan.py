"""What the cron sweep's incremental scan needs to know of the rules, without SQLAlchemy.

Used by `engine.remind` (the sweep) and by the start-up path of `followups remind`
(`cli.fast`), which proves a sweep idle with plain `sqlite3` from the rules cache's plain values.

- `sweep_digest(rules)`: what the inactivity scan's outcome depends on in the rules.
- `clock_thresholds(spec)`: the (column, age) thresholds by which time alone can make an
  inactivity rule's `when` hold — top-level `days_since_*: {gte|gt: N}` and
  `<date column>: {older_than: D}` — or None when the clock can turn it some other way.
- `sla_window(...)`: the assignment times an SLA check at `now` looks at (engine.sla).
- `clock_ages(rules, conditions)` and `windows(...)`: for `process`, the leads whose outcome
  the clock alone can change between two runs (engine.process `Plan`).
"""
from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Sequence

from ..fields import DAYS_SINCE, names_of_type
from ..rules.durations import DurationError, parse_duration

if TYPE_CHECKING:
    from ..rules.loader import RuleSet

_DATE_COLUMNS = names_of_type("datetime")
_RELATIVE_OPS = ("within", "older_than")
# A DST change inside business hours can make a window an hour shorter in UTC than on the wall clock.
DST_SLACK = timedelta(hours=2)


def sweep_digest(rules: RuleSet) -> str:
    """What the inactivity scan's outcome depends on in the rules (its rules, stages, business hours)."""
    fu = getattr(rules, "followups", None)
    parts = [[(r.name, r.when.source, r.action, r.note) for r in getattr(fu, "inactivity", ()) or ()],
             repr(getattr(fu, "business_hours", None)), repr(getattr(rules, "stages", None))]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:24]


def _reads_clock(spec: Any) -> bool:
    """Does any part of `spec` depend on the time of the check?"""
    if isinstance(spec, list):
        return any(_reads_clock(x) for x in spec)
    if not isinstance(spec, dict):
        return False
    return any(key in DAYS_SINCE or key in _RELATIVE_OPS or _reads_clock(value) for key, value in spec.items())


def clock_thresholds(spec: Any) -> list[tuple[str, timedelta]] | None:
    """(lead column, age) per top-level clock threshold of `spec`; None when time can make
    `spec` hold some other way (only "at least this old" turns true with time alone and stays so)."""
    out: list[tuple[str, timedelta]] = []
    if isinstance(spec, list):
        for item in spec:
            part = clock_thresholds(item)
            if part is None:
                return None
            out += part
        return out
    if not isinstance(spec, dict):
        return out
    for key, value in spec.items():
        if key == "all":
            part = clock_thresholds(value)
            if part is None:
                return None
            out += part
        elif key in DAYS_SINCE:
            if not isinstance(value, dict) or not value or any(
                    op not in ("gte", "gt") or isinstance(arg, bool) or not isinstance(arg, (int, float))
                    for op, arg in value.items()):
                return None
            out += [(DAYS_SINCE[key], timedelta(days=arg)) for arg in value.values()]
        elif key in _DATE_COLUMNS and isinstance(value, dict) and any(op in value for op in _RELATIVE_OPS):
            if "within" in value or any(_reads_clock(v) for v in value.values()):
                return None
            try:
                out.append((key, parse_duration(value["older_than"])))
            except DurationError:
                return None
        elif _reads_clock(value) or key in _RELATIVE_OPS:
            return None
    return out


def sla_window(zone_calendars: Sequence[Any], now: datetime, since: datetime | None, within: timedelta
               ) -> tuple[datetime | None, datetime, timedelta]:
    """(earliest, latest, shortest) for one SLA rule: windows that ended before `now` started by
    `latest`; those ending at or after `since` at or after `earliest` (None: no lower bound) — in
    any owner's zone; no window of `within` is shorter than `shortest` in clock time."""
    latest = max(c.business_start_after(now, within) for c in zone_calendars) + DST_SLACK
    earliest = (min(c.business_start_before(since, within) for c in zone_calendars) - DST_SLACK
                if since is not None else None)
    shortest = max(zone_calendars[0].business_work(within) - DST_SLACK, timedelta(0))
    return earliest, latest, shortest


# ---------------------------------------------------------------- what the clock can change for `process`
#
# A lead's outcome (score, grade, temperature, stage, explanation, routing and follow-ups) reads the
# clock only through a few atoms: `days_since_*` compared with numbers, `within`/`older_than` on a
# lead's date column, on `activity.<type>.last` or on an activity record's `at`, and engagement
# decay (a function of the time since the lead's last activity). Each flips at a fixed age of one
# date: a lead whose dates put no flip between two clocks keeps its outcome. `ClockAges` lists those
# ages per date; None means the rules read the clock some other way (an attribute's date, a
# record's own field): every lead is evaluated again when the clock moves.

CLOCK_SLACK = timedelta(seconds=1)   # stored times and float days: never miss a flip by rounding


@dataclass
class ClockAges:
    """The ages at which the clock can flip a lead's outcome, per date they are measured from."""

    lead: dict[str, list[timedelta]] = field(default_factory=dict)   # lead date column → ages
    activity_last: list[timedelta] = field(default_factory=list)   # newest activity of a lead per type
    activity_any: list[timedelta] = field(default_factory=list)    # any activity record's `at`
    # Engagement decay: idle time runs from the later of last_activity_at and the newest activity,
    # else created_at; it changes only the leads with engagement points (their stored explanation says).
    decay: list[timedelta] = field(default_factory=list)

    def add(self, column: str, ages: list[timedelta]) -> None:
        self.lead.setdefault(column, []).extend(ages)


def _numbers(arg: Any) -> list[float] | None:
    """The numbers of a comparison's argument (a list for between/in); None for anything else."""
    if isinstance(arg, bool):
        return None
    if isinstance(arg, (int, float)):
        return [float(arg)]
    if isinstance(arg, str):
        try:
            return [float(arg.strip())]
        except ValueError:
            return None
    if isinstance(arg, (list, tuple)):
        out: list[float] = []
        for a in arg:
            n = _numbers(a)
            if n is None:
                return None
            out += n
        return out
    return None


def _relative_ages(value: dict) -> list[timedelta] | None:
    ages = []
    for op in _RELATIVE_OPS:
        if op in value:
            try:
                ages.append(parse_duration(value[op]))
            except DurationError:
                return None
    return ages


def condition_ages(spec: Any, out: ClockAges, *, record: bool = False) -> bool:
    """Add every clock atom of `spec` (whatever its nesting) to `out`; False when one cannot be placed.

    `record`: the spec tests activity records (an activity rule's `when`), not leads."""
    if isinstance(spec, list):
        return all(condition_ages(s, out, record=record) for s in spec)
    if not isinstance(spec, dict):
        return True
    for key, value in spec.items():
        if key in ("all", "any", "not"):
            if not condition_ages(value, out, record=record):
                return False
        elif key == "segment":
            continue  # the segment's own `when` is one of the rule set's conditions
        elif key in DAYS_SINCE:
            if record:
                return False
            ops = value if isinstance(value, dict) else {"eq": value}
            for op, arg in ops.items():
                if op in ("exists", "missing"):
                    continue
                nums = _numbers(arg)
                if nums is None:
                    return False
                out.add(DAYS_SINCE[key], [timedelta(days=n) for n in nums])
        elif isinstance(value, dict) and any(op in value for op in _RELATIVE_OPS):
            ages = _relative_ages(value)
            if ages is None or any(_reads_clock(v) for op, v in value.items() if op not in _RELATIVE_OPS):
                return False
            if record:
                if key != "at":
                    return False
                out.activity_any += ages
            elif key in _DATE_COLUMNS:
                out.add(key, ages)
            elif key.startswith("activity.") and key.endswith(".last"):
                out.activity_last += ages
            else:
                return False  # an attribute's date: not a column the store can look up
        elif _reads_clock(value):
            return False
    return True


def decay_ages(decay: Any) -> list[timedelta]:
    """The idle times at which engagement decay's factor, rounded to 3 decimals as scoring does, changes."""
    if decay is None:
        return []
    if decay.half_life is not None:
        # 0.5^(idle/h) crosses (k + 0.5)/1000 at idle = h·log2(1000/(k + 0.5)); at 0 the factor leaves 1.0.
        return [timedelta(0)] + [decay.half_life * math.log2(1000 / (k + 0.5)) for k in range(1000)]
    return [timedelta(0)] + [s.after for s in decay.steps or ()]


def clock_ages(rules: RuleSet, conditions: Sequence[Any]) -> ClockAges | None:
    """Where the clock can change a lead's outcome under `rules` (`conditions`: its lead-mode
    conditions); None when it can do so in a way no stored date tells."""
    out = ClockAges()
    for cond in conditions:
        if not condition_ages(getattr(cond, "source", None), out):
            return None
    scoring = getattr(rules, "scoring", None)
    groups = (scoring.fit, scoring.engagement) if scoring is not None else ()
    for group in groups:
        for r in group.rules:
            if getattr(r, "activity", None) and r.when is not None:
                if not condition_ages(getattr(r.when, "source", None), out, record=True):
                    return None
    if scoring is not None:
        out.decay = decay_ages(scoring.engagement.decay)
    return out


def windows(ages: list[timedelta], prev: datetime, now: datetime) -> list[tuple[datetime, datetime]]:
    """Sorted, disjoint [lo, hi] ranges of a date whose age crosses one of `ages` between `prev` and `now`."""
    spans = sorted((prev - a - CLOCK_SLACK, now - a + CLOCK_SLACK) for a in set(ages))
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def in_windows(value: datetime | None, spans: list[tuple[datetime, datetime]], los: list[datetime]) -> bool:
    """Whether `value` lies in one of `spans` (from `windows`; `los` their starts)."""
    if value is None:
        return False
    i = bisect_right(los, value) - 1
    return i >= 0 and value <= spans[i][1]


_FILTER_COLUMNS = ("stage", "temperature")   # text columns holding canonical names


def sweep_filters(spec: Any) -> list[tuple[str, tuple[str, ...]]]:
    """(column, values) per top-level `stage`/`temperature` equality or list of `spec`: a lead the
    rule takes has that column equal to one of the values (case and surrounding spaces aside)."""
    out: list[tuple[str, tuple[str, ...]]] = []
    if isinstance(spec, list):
        for item in spec:
            out += sweep_filters(item)
        return out
    if not isinstance(spec, dict):
        return out
    for key, value in spec.items():
        if key == "all":
            out += sweep_filters(value)
        elif key in _FILTER_COLUMNS:
            if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("eq", "in"):
                value = next(iter(value.values()))
            values = [value] if isinstance(value, str) else value
            if isinstance(values, list) and values and all(isinstance(v, str) and v.isascii() for v in values):
                out.append((key, tuple(sorted({v.strip().lower() for v in values}))))
    return out
