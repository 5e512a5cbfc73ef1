"""Contact limits and quiet hours (followups.yaml `limits`, `quiet_hours`): where a touch may go.

A *touch* is a follow-up task that contacts the lead — its action uses a channel
(engine.consent: e-mail, phone, SMS) — pending (at its due time) or done (at its
completion). A limit `{max: 3, per: 7d}` holds when no span of 7 days holds more than
3 of the lead's touches, across every cadence; with `channel: email` only e-mail
touches count. A new touch that would break a limit, or fall in quiet hours (in the
lead's time zone when known — a country with one time zone — else the owner's), is
moved to the first business moment that respects them all, and its note says why.

    plan = ContactPlan(rules.followups)
    touches = plan.touches(task_rows)               # the lead's current touches
    due, why = plan.place(touches, due, "email", calendar, lead)
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import lru_cache
from typing import Any, Iterable, Mapping

from ..clock import to_local, to_utc, zone
from .consent import channel_of

_MAX_MOVES = 1000  # each move goes strictly later; a plan needing more is left where it got to


@lru_cache(maxsize=1)
def _single_zones() -> dict[str, str]:
    """Country code → its time zone, for countries with exactly one (tzdata's zone.tab)."""
    import importlib.resources

    zones: dict[str, list[str]] = {}
    try:
        text = importlib.resources.files("tzdata").joinpath("zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    except (ModuleNotFoundError, OSError):
        return {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            parts = line.split("\t")
            if len(parts) >= 3:
                zones.setdefault(parts[0].upper(), []).append(parts[2])
    return {cc: z[0] for cc, z in zones.items() if len(z) == 1}


def lead_zone(lead: Mapping[str, Any]) -> str | None:
    """The lead's time zone when known: its `timezone`, else its country's when the country has one zone."""
    tz = lead.get("timezone")
    if tz:
        return str(tz)
    country = lead.get("country")
    return _single_zones().get(str(country).upper()) if country else None


def duration_text(td: timedelta) -> str:
    """`7d`, `12h`, `90m`: how a period reads in followups.yaml."""
    minutes = int(td.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def limit_text(limit: Any) -> str:
    """`limit 1 email per 1d`."""
    what = f"{limit.channel} " if limit.channel else ""
    return f"limit {limit.max} {what}per {duration_text(limit.per)}"


class ContactPlan:
    """The limits and quiet hours of one rule set, placing touches of one lead at a time."""

    def __init__(self, followups: Any):
        self.limits = tuple(getattr(followups, "limits", ()) or ())
        self.quiet: tuple[time, time] | None = getattr(followups, "quiet_hours", None)

    @property
    def active(self) -> bool:
        return bool(self.limits or self.quiet)

    @staticmethod
    def touches(tasks: Iterable[Any]) -> list[tuple[datetime, str]]:
        """(time, channel) of the tasks that contact the lead: pending at their due time, done when done."""
        out = []
        for t in tasks:
            channel = channel_of(t.action)
            if channel is None:
                continue
            if t.status == "pending":
                out.append((t.due_at, channel))
            elif t.status == "done":
                out.append((t.completed_at or t.due_at, channel))
        return out

    def _broken(self, touches: list[tuple[datetime, str]], at: datetime, channel: str):
        """(start of the earliest span holding too many touches with one more at `at`, its limit), or None."""
        worst = None
        for limit in self.limits:
            if limit.channel is not None and limit.channel != channel:
                continue
            times = sorted([t for t, c in touches if limit.channel is None or c == limit.channel] + [at])
            for start in times:
                if start > at:
                    break
                if start <= at - limit.per:
                    continue
                if sum(1 for t in times if start <= t < start + limit.per) > limit.max:
                    if worst is None or start + limit.per < worst[0] + worst[1].per:
                        worst = (start, limit)
                    break
        return worst

    def _quiet_end(self, at: datetime, tzname: str | None) -> datetime | None:
        """When the quiet hours around `at` end (naive UTC), None when `at` is not in quiet hours."""
        if self.quiet is None:
            return None
        tz = zone(tzname)
        local = to_local(at, tz)
        start, end = self.quiet
        now, day = local.time(), local.date()
        if start < end:
            inside, end_day = start <= now < end, day
        else:  # across midnight: 20:00-08:00
            inside = now >= start or now < end
            end_day = day + timedelta(days=1) if now >= start else day
        return to_utc(datetime.combine(end_day, end), tz) if inside else None

    def place(self, touches: list[tuple[datetime, str]], at: datetime, channel: str | None, calendar: Any,
              lead: Mapping[str, Any]) -> tuple[datetime, str | None]:
        """The first business moment from `at` where one more `channel` touch respects the limits and
        quiet hours, and why it moved (None when it did not). The touch is added to `touches`."""
        if channel is None or not self.active:
            return at, None
        tzname = lead_zone(lead) or getattr(calendar, "tzname", None)
        reasons: list[str] = []
        t = at
        for _ in range(_MAX_MOVES):
            quiet_end = self._quiet_end(t, tzname)
            if quiet_end is not None:
                t = calendar.fit(quiet_end)
                why = f"quiet hours {self.quiet[0]:%H:%M}-{self.quiet[1]:%H:%M} ({tzname or 'UTC'})"  # type: ignore[index]
            elif (broken := self._broken(touches, t, channel)) is not None:
                start, limit = broken
                t = calendar.fit(start + limit.per)
                why = limit_text(limit)
            else:
                break
            if why not in reasons:
                reasons.append(why)
        touches.append((t, channel))
        if t == at:
            return t, None
        return t, f"moved from {at:%Y-%m-%d %H:%M} UTC: " + ", ".join(reasons)
