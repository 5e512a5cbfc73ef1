"""What a condition may name: lead fields (read from the catalogue in leadctl/fields.py), how each is
read, the operators, and the words people reach for instead (for "did you mean")."""
from __future__ import annotations

from datetime import datetime

from leadctl.fields import CONDITION, DAYS_SINCE, names_of_type
from leadctl.rules.coerce import _to_dt
from leadctl.words import activity_key, did_you_mean

# The lead fields a condition reads, and how it reads each: from the catalogue (leadctl/fields.py).
LEAD_COLUMNS = CONDITION
DERIVED_FIELDS = tuple(DAYS_SINCE)
NUMBER_FIELDS = names_of_type("int", "float") | set(DERIVED_FIELDS)
DATE_FIELDS = names_of_type("datetime")
BOOL_FIELDS = names_of_type("bool")

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "not_in", "contains",
             "not_contains", "starts_with", "ends_with", "matches", "exists", "missing",
             "within", "older_than", "before", "after")
COMBINATORS = ("all", "any", "not")
# Words people reach for first; difflib alone cannot map "greater" to "gt".
_OPERATOR_SYNONYMS = {
    "greater": "gt", "greater_than": "gt", "more_than": "gt", "above": "gt", ">": "gt",
    "greater_or_equal": "gte", "at_least": "gte", "min": "gte", ">=": "gte", "ge": "gte",
    "less": "lt", "less_than": "lt", "below": "lt", "<": "lt", "under": "lt",
    "less_or_equal": "lte", "at_most": "lte", "max": "lte", "<=": "lte", "le": "lte",
    "equals": "eq", "equal": "eq", "is": "eq", "==": "eq", "=": "eq",
    "not_equal": "ne", "not_equals": "ne", "is_not": "ne", "!=": "ne", "neq": "ne",
    "one_of": "in", "any_of": "in", "none_of": "not_in", "nin": "not_in", "not in": "not_in",
    "includes": "contains", "has": "contains", "like": "contains",
    "startswith": "starts_with", "begins_with": "starts_with", "prefix": "starts_with",
    "endswith": "ends_with", "suffix": "ends_with",
    "regex": "matches", "match": "matches", "re": "matches", "pattern": "matches",
    "exist": "exists", "present": "exists", "is_set": "exists",
    "since": "within", "in_last": "within", "newer_than": "within", "older": "older_than",
    "range": "between", "or": "any", "and": "all", "none": "not",
}


class _Field:
    """How to read one field: a plain key, an attribute, an activity count, or `get(lead, now)`."""

    __slots__ = ("name", "kind", "key", "get", "attr", "count")

    def __init__(self, name, kind, key=None, get=None, attr=None, count=None):
        self.name, self.kind, self.key, self.get = name, kind, key, get
        self.attr, self.count = attr, count


def lead_field(name: str) -> _Field | str:
    """A _Field for a lead-mode name, or an error message."""
    if name == "email_domain":
        def get(lead, now):
            v = lead.get("email_domain")
            if v:
                return v
            e = lead.get("email")
            if type(e) is str and "@" in e:
                return e.rsplit("@", 1)[1].strip().lower() or None
            return None
        return _Field(name, "text", get=get)
    if name in DAYS_SINCE:
        col = DAYS_SINCE[name]

        def get(lead, now, col=col):
            d = lead.get(col)
            if d is None:
                return None
            if type(d) is not datetime or d.tzinfo is not None:
                d = _to_dt(d)
                if d is None:
                    return None
            return (now - d).total_seconds() / 86400.0
        return _Field(name, "number", get=get)
    if name in LEAD_COLUMNS:
        kind = ("number" if name in NUMBER_FIELDS else "date" if name in DATE_FIELDS
                else "bool" if name in BOOL_FIELDS else "text")
        return _Field(name, kind, key=name)
    if name.startswith("attributes."):
        attr = name[len("attributes."):]
        if not attr:
            return "field 'attributes.' needs a key, e.g. attributes.budget"

        def get(lead, now, attr=attr):
            a = lead.get("attributes")
            return a.get(attr) if a else None
        return _Field(name, "any", get=get, attr=attr)
    if name.startswith("activity."):
        parts = name.split(".")
        if len(parts) != 3 or not parts[1] or parts[2] not in ("count", "last"):
            t = parts[1] if len(parts) > 1 and parts[1] else "<type>"
            return (f"unknown field '{name}' (use activity.{t}.count or activity.{t}.last)")
        atype = activity_key(parts[1])  # as activities are stored and counted
        if parts[2] == "count":
            def get(lead, now, atype=atype):
                a = lead.get("activity")
                if not a:
                    return 0
                e = a.get(atype)
                return e[0] if e else 0
            return _Field(name, "number", get=get, count=atype)

        def get(lead, now, atype=atype):
            a = lead.get("activity")
            if not a:
                return None
            e = a.get(atype)
            return e[1] if e else None
        return _Field(name, "date", get=get)
    known = LEAD_COLUMNS + DERIVED_FIELDS
    hint = did_you_mean(name, known)
    if not hint:
        if name.startswith(("attribute.", "attrs.", "attr.", "custom.", "fields.")):
            hint = f" (did you mean 'attributes.{name.split('.', 1)[1]}'?)"
        else:
            hint = f" (custom fields are written attributes.{name})"
    return f"unknown field '{name}'{hint}"


def _activity_field(name: str) -> _Field:
    kind = "date" if name == "at" else "text" if name in ("type", "note", "source") else "any"
    return _Field(name, kind, key=name)
