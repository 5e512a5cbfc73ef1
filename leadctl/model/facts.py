"""What the model reads of a lead: the same facts the condition language sees.

A fact is named like a condition field:

    source, employees, do_not_contact      a lead column
    attributes.product                     a custom field
    activity.email_open.count              how many activities of that type
    activity.email_open.days_since         whole days from the latest one to the reference time
    days_since_activity, days_since_contacted
    flags.free_mail                        a data-quality flag: true or false

`lead` is a dict as `process` hands it to its steps (columns, `attributes`, and
`activity` as {type: (count, last_at)}). Recencies are measured at `ref`: the clock
for leads being scored, the outcome date for the leads a model learns from.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from ..fields import DAYS_SINCE

ACTIVITY_PREFIX = "activity."
ATTRIBUTE_PREFIX = "attributes."
FLAG_PREFIX = "flags."


def days_between(then: datetime | None, ref: datetime) -> int | None:
    """Whole days from `then` to `ref` (None when `then` is empty)."""
    if then is None:
        return None
    return (ref - then).days


def fact(lead: dict, name: str, ref: datetime) -> Any:
    """The value of fact `name` for `lead`, measured at `ref` (None when the lead has none)."""
    if name.startswith(ATTRIBUTE_PREFIX):
        attrs = lead.get("attributes") or {}
        return attrs.get(name[len(ATTRIBUTE_PREFIX):])
    if name.startswith(ACTIVITY_PREFIX):
        _, typ, what = name.split(".", 2)
        count, last = (lead.get("activity") or {}).get(typ, (0, None))
        if what == "count":
            return count
        return days_between(last, ref)
    if name in DAYS_SINCE:
        return days_between(lead.get(DAYS_SINCE[name]), ref)
    if name.startswith(FLAG_PREFIX):
        return has_flag(lead.get("flags"), name[len(FLAG_PREFIX):])
    return lead.get(name)


def has_flag(flags: str | None, word: str) -> bool:
    """Whether `leads.flags` (words separated by spaces) holds `word`."""
    return word in (flags or "").split()


def columns_for(names) -> set[str]:
    """The lead columns the facts `names` read (`attributes` for custom fields)."""
    cols: set[str] = set()
    for name in names:
        if name.startswith(ATTRIBUTE_PREFIX):
            cols.add("attributes")
        elif name.startswith(ACTIVITY_PREFIX):
            continue
        elif name in DAYS_SINCE:
            cols.add(DAYS_SINCE[name])
        elif name.startswith(FLAG_PREFIX):
            cols.add("flags")
        else:
            cols.add(name)
    return cols


def reads_activity(names) -> bool:
    """Whether any of the facts `names` is an activity count or recency."""
    return any(n.startswith(ACTIVITY_PREFIX) for n in names)


_NONE = (0, None)


def column(leads: list[dict], name: str, ref: datetime) -> list[Any]:
    """`fact(lead, name, ref)` for every lead of a chunk, in one pass (what `process` runs)."""
    if name.startswith(ATTRIBUTE_PREFIX):
        key = name[len(ATTRIBUTE_PREFIX):]
        return [a.get(key) if isinstance(a := lead.get("attributes"), dict) else None for lead in leads]
    if name.startswith(ACTIVITY_PREFIX):
        _, typ, what = name.split(".", 2)
        aggs = [(lead.get("activity") or {}).get(typ, _NONE) for lead in leads]
        if what == "count":
            return [n for n, _ in aggs]
        return [None if last is None else (ref - last).days for _, last in aggs]
    if name in DAYS_SINCE:
        col = DAYS_SINCE[name]
        return [None if (t := lead.get(col)) is None else (ref - t).days for lead in leads]
    if name.startswith(FLAG_PREFIX):
        word = name[len(FLAG_PREFIX):]
        return [has_flag(lead.get("flags"), word) for lead in leads]
    return [lead.get(name) for lead in leads]
