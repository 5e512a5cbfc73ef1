"""Durations as people write them in rule files and on the command line.

    parse_duration("30m")  -> timedelta(minutes=30)
    parse_duration("1h30m") -> timedelta(hours=1, minutes=30)   # parts may be combined
    parse_duration("1.5d")  -> timedelta(days=1, hours=12)

Units: s (seconds), m (minutes), h (hours), d (days), w (weeks). A bare number is
refused: "30" could mean minutes or days, and guessing is how SLAs go wrong.
"""
from __future__ import annotations

import re
from datetime import timedelta

from leadctl.errors import UsageError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?\s*[smhdw]\s*)+")
MAX_DURATION = timedelta(days=3650)


class DurationError(UsageError):
    """A duration could not be read (exit code 2 on the command line)."""


def duration_message(value: object) -> str:
    return f"bad duration '{value}' (use 30m, 4h, 14d, 2w)"


def parse_duration(value: object) -> timedelta:
    """Parse `30m`, `4h`, `14d`, `2w`, `90s` (or combinations like `1h30m`) into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise DurationError(duration_message(value))
    text = value.strip().lower()
    if not text or not _WHOLE.fullmatch(text):
        raise DurationError(duration_message(value))
    seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
    if seconds > MAX_DURATION.total_seconds():
        raise DurationError(f"duration '{value}' is too long (at most 3650d)")
    return timedelta(seconds=seconds)


def format_duration(td: timedelta) -> str:
    """The shortest way to write `td` in the same notation: 90 min → '1h30m'."""
    total = int(td.total_seconds())
    if total == 0:
        return "0m"
    out = []
    sign = "-" if total < 0 else ""
    total = abs(total)
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, total = divmod(total, size)
        if n:
            out.append(f"{n}{unit}")
    return sign + "".join(out)
