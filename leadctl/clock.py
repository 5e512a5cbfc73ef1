"""The clock: `--now` / LEADCTL_NOW or the real time, always naive UTC."""
from __future__ import annotations

from datetime import datetime, timezone

from .errors import UsageError


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def parse_now(value: str | None, option: str | None = None) -> datetime:
    """Parse a date and time (ISO date or datetime, offset allowed) into naive UTC; None is now.

    `option` names where the value came from (`--now`, `--at` …) in the error message.
    """
    if not value:
        return utcnow()
    from dateutil import parser

    try:
        dt = parser.isoparse(value.strip())
    except (ValueError, OverflowError):
        try:
            dt = parser.parse(value.strip())
        except (ValueError, OverflowError) as exc:
            raise UsageError(f"{option + ': ' if option else ''}cannot read '{value}' as a date and time",
                             hint="use ISO 8601, e.g. 2026-11-20T09:00 or 2026-11-20T09:00+01:00") from exc
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt
