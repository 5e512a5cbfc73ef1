"""Business-hours arithmetic in an owner's time zone.

All times in and out are naive UTC (as the store keeps them); the arithmetic runs on
the owner's local wall clock (`zoneinfo`, data from the `tzdata` package), so a step
due "at 09:10" stays at 09:10 local across a DST change.

    hours = BusinessHours(days=["mon", "tue", "wed", "thu", "fri"], start="09:00", end="17:00")
    cal = BusinessCalendar(hours, "Europe/Berlin")
    cal.add(friday_1655_berlin_as_utc, timedelta(minutes=15))   # -> Monday 09:10 Berlin, as UTC

How a duration is added (`after:` of a cadence step, `followups snooze`):

* its whole days (`1d`, `2w` = 14 days) are calendar days on the local wall clock;
* the rest (`15m`, `4h`, the `12h` of `1d12h`) is *working* time: only minutes inside
  business hours count, so 15 minutes from Friday 16:55 is 5 minutes on Friday and
  10 on Monday — Monday 09:10;
* the result is then moved forward to the next business moment (a day of 1d from
  Friday 10:00 is Saturday 10:00, which becomes Monday 09:00).

A time exactly at the end of business hours (17:00) counts as inside: work that
fills the day up to its end is due at its end, not the next morning.

SLA windows (`within:` of routing.yaml's `sla:`) are counted all in business time
(`add_business`): hours and minutes are working time, and each whole day is one
business day — a working day's length of business hours (8h for 09:00–17:00). So
`within: 1h` from 06:00 is 10:00, and `within: 1d` from Friday 10:00 is Monday 10:00.
A window that ends exactly at the end of a business day ends at the start of the next
one instead (the same moment in business time: nothing can be late in between).
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from ..clock import to_local, to_utc, zone

if TYPE_CHECKING:
    from ..rules.loader import RuleSet

DAY = timedelta(days=1)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MEMO_MAX = 4096  # remembered results per calendar (a run needs a handful: steps from one `now`); cleared when full


class BusinessCalendar:
    """Business days and hours in one time zone; see the module docstring for the arithmetic."""

    __slots__ = ("weekdays", "start", "end", "tz", "tzname", "_memo")

    def __init__(self, hours: Any = None, tzname: str | None = None):
        days = getattr(hours, "days", None) or DAYS[:5]
        self.weekdays = frozenset(DAYS.index(d) for d in days)
        self.start: time = getattr(hours, "start", None) or time(9, 0)
        self.end: time = getattr(hours, "end", None) or time(17, 0)
        if self.start >= self.end:  # the rules loader refuses this; be safe for hand-made objects
            self.start, self.end = time(0, 0), time(23, 59, 59, 999999)
        self.tz = zone(tzname)
        self.tzname = self.tz.key if tzname else "UTC"
        # `fit`, `add` and `add_business` of naive times, remembered: a run schedules the same steps
        # from the same `now`, and an SLA check judges leads assigned at one instant, by the
        # thousand. Aware times are left out: equal aware times can differ in wall time, which is
        # what the arithmetic reads.
        self._memo: dict[tuple, datetime] = {}

    # -------------------------------------------------------------- local wall-clock helpers
    def _day_start(self, d) -> datetime:
        return datetime.combine(d, self.start)

    def _day_end(self, d) -> datetime:
        return datetime.combine(d, self.end)

    def _next_business_day(self, d):
        for _ in range(8):
            d = d + DAY
            if d.weekday() in self.weekdays:
                return d
        return d  # unreachable: the loader guarantees at least one day

    def fit_local(self, t: datetime) -> datetime:
        """The first business moment at or after local time `t`."""
        if t.weekday() in self.weekdays:
            if t.time() < self.start:
                return self._day_start(t.date())
            if t <= self._day_end(t.date()):
                return t
        return self._day_start(self._next_business_day(t.date()))

    def add_working_local(self, t: datetime, work: timedelta) -> datetime:
        """Local time `t` plus `work` of business time (counted inside business hours only)."""
        t = self.fit_local(t)
        remaining = work
        # Bounded: a week holds at least one business day, `work` is under a day here,
        # but be safe with long work by skipping whole days.
        for _ in range(10_000):
            left_today = self._day_end(t.date()) - t
            if remaining <= left_today:
                return t + remaining
            remaining -= left_today
            t = self._day_start(self._next_business_day(t.date()))
        return t  # pragma: no cover

    def back_working_local(self, t: datetime, work: timedelta) -> datetime:
        """The latest local time from which `work` of business time ends at or before `t`."""
        if t.weekday() not in self.weekdays or t.time() < self.start:
            t = self._day_end(self._previous_workday(t.date()))
        elif t > self._day_end(t.date()):
            t = self._day_end(t.date())
        remaining = work
        for _ in range(10_000):
            used_today = t - self._day_start(t.date())
            if remaining <= used_today:
                return t - remaining
            remaining -= used_today
            t = self._day_end(self._previous_workday(t.date()))
        return t  # pragma: no cover

    def _previous_workday(self, d):
        """The last business day before `d`."""
        for _ in range(8):
            d = d - DAY
            if d.weekday() in self.weekdays:
                break
        return d

    @property
    def day_length(self) -> timedelta:
        """Business time in one business day (8h for 09:00–17:00)."""
        return datetime.combine(datetime.min.date(), self.end) - datetime.combine(datetime.min.date(), self.start)

    def business_work(self, within: timedelta) -> timedelta:
        """An SLA window as working time: each whole day is a business day's length, the rest as is."""
        days, rest = divmod(within, DAY)
        return self.day_length * days + rest

    # -------------------------------------------------------------- public, naive UTC in/out
    def is_open(self, at: datetime) -> bool:
        """Whether naive-UTC `at` falls inside business hours."""
        local = to_local(at, self.tz)
        return self.fit_local(local) == local

    def fit(self, at: datetime) -> datetime:
        """Move naive-UTC `at` forward to the first business moment (unchanged when inside)."""
        if at.tzinfo is not None:
            return self._fit(at)
        k = (at, None)
        out = self._memo.get(k)
        if out is None:
            out = self._remember(k, self._fit(at))
        return out

    def _fit(self, at: datetime) -> datetime:
        local = to_local(at, self.tz)
        fitted = self.fit_local(local)
        return at if fitted == local else to_utc(fitted, self.tz)

    def add(self, at: datetime, after: timedelta) -> datetime:
        """`at` plus `after`: whole days on the calendar, the rest in working time, then fitted.

        Negative or zero durations just fit `at` into business hours.
        """
        if at.tzinfo is not None:
            return self._add(at, after)
        k = (at, after)
        out = self._memo.get(k)
        if out is None:
            out = self._remember(k, self._add(at, after))
        return out

    def _add(self, at: datetime, after: timedelta) -> datetime:
        local = to_local(at, self.tz)
        if after > timedelta(0):
            days, rest = divmod(after, DAY)
            if days:
                local = local + DAY * days
            if rest:
                local = self.add_working_local(local, rest)
        return to_utc(self.fit_local(local), self.tz)

    def _remember(self, k: tuple, value: datetime) -> datetime:
        if len(self._memo) >= _MEMO_MAX:
            self._memo.clear()
        self._memo[k] = value
        return value

    def add_business(self, at: datetime, within: timedelta) -> datetime:
        """The end of an SLA window of `within` from `at`, all in business time (module docstring)."""
        if at.tzinfo is not None:
            return self._add_business(at, within)
        k = (at, within, "sla")  # a mass assignment gives thousands of leads one `at`
        out = self._memo.get(k)
        if out is None:
            out = self._remember(k, self._add_business(at, within))
        return out

    def _add_business(self, at: datetime, within: timedelta) -> datetime:
        work = self.business_work(within)
        local = self.add_working_local(to_local(at, self.tz), work)
        if work and local == self._day_end(local.date()):
            # The end of a business day and the start of the next are the same moment of
            # business time; the later one lets an after-hours contact still count as in time.
            local = self._day_start(self._next_business_day(local.date()))
        return to_utc(local, self.tz)

    def business_start_before(self, at: datetime, within: timedelta) -> datetime:
        """A time before which every SLA window of `within` has ended strictly before `at` (naive UTC)."""
        work = self.business_work(within) + timedelta(minutes=1)
        return to_utc(self.back_working_local(to_local(at, self.tz), work), self.tz)

    def business_start_after(self, at: datetime, within: timedelta) -> datetime:
        """A time after which no SLA window of `within` has ended before `at` (naive UTC)."""
        work = max(self.business_work(within) - timedelta(minutes=1), timedelta(0))
        return to_utc(self.back_working_local(to_local(at, self.tz), work), self.tz)

    def local_text(self, at: datetime) -> str:
        """`2026-11-20 09:10 Europe/Berlin` for naive-UTC `at`."""
        return f"{to_local(at, self.tz):%Y-%m-%d %H:%M} {self.tzname}"


class Calendars:
    """BusinessCalendar per owner, built once: owner → time zone from the store and the rules.

    Owners not known (and tasks without an owner) use UTC business hours.
    """

    def __init__(self, hours: Any, zones: dict[str, str] | None = None):
        self.hours = hours
        self.zones = {k.casefold(): v for k, v in (zones or {}).items() if k}
        self._cache: dict[str, BusinessCalendar] = {}
        self._owners: dict[str | None, BusinessCalendar] = {}   # by the owner as spelled on the lead

    def timezone_of(self, owner: str | None) -> str:
        if not owner:
            return "UTC"
        return self.zones.get(owner.casefold()) or "UTC"

    def for_owner(self, owner: str | None) -> BusinessCalendar:
        cal = self._owners.get(owner)
        if cal is None:
            tzname = self.timezone_of(owner)
            cal = self._cache.get(tzname)
            if cal is None:
                cal = self._cache[tzname] = BusinessCalendar(self.hours, tzname)
            self._owners[owner] = cal
        return cal


def owner_zones(conn: Any, rules: RuleSet | None = None) -> dict[str, str]:
    """{owner name or e-mail: time zone} from the rules' routing owners, then the `owners` table.

    The store wins where both know an owner (routing keeps it in sync with the rules);
    the rules fill in owners not yet synced.
    """
    zones: dict[str, str] = {}
    for o in getattr(getattr(rules, "routing", None), "owners", ()) or ():
        zones[o.name] = o.timezone
        if o.email:
            zones[o.email] = o.timezone
    if conn is not None:
        # Here, not at the top: the start-up paths (cli.fast) use the calendars without SQLAlchemy or SQLModel.
        from sqlalchemy import select

        from ..store.tables import OWNERS as t

        for name, email, tz in conn.execute(select(t.c.name, t.c.email, t.c.timezone)):
            if tz:
                zones[name] = tz
                if email:
                    zones[email] = tz
    return zones
