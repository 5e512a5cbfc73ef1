"""The calendar: now, reading the dates people type, and converting between UTC and a zone.

Every time leadctl stores, compares or passes around is naive UTC (the store's
DateTime columns are declared naive). Aware values are converted on the way in
(`naive_utc`); local wall-clock time exists only inside the zone arithmetic
(`to_local`/`to_utc`, used by business hours and owners' calendar days).

    parse_now("2026-11-20T09:00+01:00")            # 2026-11-20 08:00 (the `--now` clock)
    parse_when("2026-01-31", "--until", end=True)  # 2026-02-01 00:00 (an exclusive bound)
    to_local(now, zone("Europe/Berlin"))
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import UsageError

UTC = timezone.utc


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def naive_utc(value: Any) -> Any:
    """A datetime as naive UTC (an aware one converted; other values, None included, pass through)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _isoparse(text: str) -> datetime:
    from dateutil import parser  # dateutil costs start-up time; only reading a date needs it

    return parser.isoparse(text)


def parse_now(value: str | None, option: str | None = None) -> datetime:
    """Parse a date and time (ISO date or datetime, offset allowed) into naive UTC; None is now.

    `option` is where the value came from (`--now`, `LEADCTL_NOW` …), shown before the error.
    """
    if not value:
        return utcnow()
    from dateutil import parser

    try:
        dt = _isoparse(value.strip())
    except (ValueError, OverflowError):
        try:
            dt = parser.parse(value.strip())
        except (ValueError, OverflowError) as exc:
            raise UsageError(f"cannot read '{value}' as a date and time", option=option,
                             hint="use ISO 8601, e.g. 2026-11-20T09:00 or 2026-11-20T09:00+01:00") from exc
    return naive_utc(dt)


def parse_when(text: str | None, option: str | None = None, *, end: bool = False) -> datetime | None:
    """Parse a date bound such as `--since`/`--until` (date or ISO datetime, offset allowed) to naive UTC.

    With `end=True` a bare date means the end of that day (the next midnight, exclusive);
    `option` is where the value came from, shown before the error.
    """
    if text is None or not str(text).strip():
        return None
    raw = str(text).strip()
    try:
        value = naive_utc(_isoparse(raw))
    except (ValueError, OverflowError) as exc:
        raise UsageError(f"cannot read '{text}' as a date", option=option,
                         hint="use YYYY-MM-DD or an ISO 8601 date and time, e.g. 2026-01-31T18:00") from exc
    date_only = len(raw) <= 10 and "T" not in raw and ":" not in raw
    if end and date_only:
        value += timedelta(days=1)
    return value


@lru_cache(maxsize=256)
def zone(name: str | None) -> ZoneInfo:
    """The ZoneInfo for `name`; UTC for None, empty or unknown names (never raises)."""
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ZoneInfo("UTC")


def to_local(utc_naive: datetime, tz: ZoneInfo) -> datetime:
    """Naive UTC → naive local wall-clock time in `tz`."""
    return utc_naive.replace(tzinfo=UTC).astimezone(tz).replace(tzinfo=None)


def to_utc(local_naive: datetime, tz: ZoneInfo) -> datetime:
    """Naive local wall-clock time in `tz` → naive UTC.

    An ambiguous time (the repeated hour in autumn) is read as its first occurrence;
    a time that does not exist (the skipped hour in spring) as if the clock had not
    yet moved, which lands one hour later on the new clock.
    """
    return local_naive.replace(tzinfo=tz, fold=0).astimezone(UTC).replace(tzinfo=None)
