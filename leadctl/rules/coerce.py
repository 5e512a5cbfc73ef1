"""Value coercion for conditions: numbers, yes/no words and dates read the same way everywhere."""
from __future__ import annotations

from datetime import date, datetime, timezone

from leadctl.words import FALSE_WORDS, TRUE_WORDS


def _naive_utc(d: datetime) -> datetime:
    return d if d.tzinfo is None else d.astimezone(timezone.utc).replace(tzinfo=None)


def _to_num(v):
    t = type(v)
    if t is int or t is float:
        return v
    if t is str:
        try:
            return float(v)
        except ValueError:
            return None
    if t is bool or v is None:
        return None
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v
    return None


def _to_bool(v):
    t = type(v)
    if t is bool:
        return v
    if t is str:
        s = v.strip().lower()
        return True if s in TRUE_WORDS else False if s in FALSE_WORDS else None
    if t is int or t is float:
        return True if v == 1 else False if v == 0 else None
    return None


def _to_dt(v):
    """A naive UTC datetime from a datetime, date or ISO text; None otherwise."""
    if type(v) is datetime:
        return v if v.tzinfo is None else _naive_utc(v)
    if isinstance(v, datetime):
        return _naive_utc(v)
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day)
    if type(v) is str:
        s = v.strip()
        if len(s) < 8 or not s[:4].isdigit():
            return None
        try:
            return _naive_utc(datetime.fromisoformat(s))
        except ValueError:
            return None
    return None


def _parse_const_date(c):
    """A YAML date/datetime/ISO text constant → date or naive datetime, else None."""
    if isinstance(c, datetime):
        return _naive_utc(c)
    if isinstance(c, date):
        return c
    if isinstance(c, str):
        s = c.strip()
        try:
            return date.fromisoformat(s)
        except ValueError:
            pass
        try:
            return _naive_utc(datetime.fromisoformat(s))
        except ValueError:
            return None
    return None


def _is_number(c) -> bool:
    return isinstance(c, (int, float)) and not isinstance(c, bool)


def _text(v) -> str:
    return v if type(v) is str else str(v)
