"""What the cron sweep's incremental scan needs to know of the rules, without SQLAlchemy.

Used by `engine.remind` (the sweep) and by the start-up path of `followups remind`
(`cli.fast`), which proves a sweep idle with plain `sqlite3` from the rules cache's plain values.

- `sweep_digest(rules)`: what the inactivity scan's outcome depends on in the rules.
- `clock_thresholds(spec)`: the (column, age) thresholds by which time alone can make an
  inactivity rule's `when` hold — top-level `days_since_*: {gte|gt: N}` and
  `<date column>: {older_than: D}` — or None when the clock can turn it some other way.
- `sla_window(...)`: the assignment times an SLA check at `now` looks at (engine.sla).
"""
from __future__ import annotations

import hashlib
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
