"""Rule conditions as SQL, answering only where the answer is surely the Python evaluator's.

    sure = condition_sql(rule.when.source, LEADS, readable={"industry", "employees", ...})
    sure.yes, sure.no      # SQL booleans: the condition surely holds / surely does not
    sure.useful            # False when SQL can never decide it (every lead goes to Python)

A lead for which neither `yes` nor `no` holds is evaluated by the compiled Python
condition (rules/compiler.py), the reference. Each leaf of the condition gives a
(yes, no) pair and the combinators follow three-valued logic (`all`: yes when every
part says yes, no when any says no; `not` swaps them), so a leaf SQL cannot express
— a regex, an attribute, a date, a column the run itself rewrites — makes only the
leads it decides uncertain, not the whole rule.

What SQL decides, and why it is exact:
* number columns with number constants (eq ne in not_in gt gte lt lte between exists
  missing), when the stored value is a number (SQLite may keep text in a numeric
  column: such a value is left to Python);
* text columns with constants made of printable ASCII (eq ne in not_in exists
  missing contains not_contains starts_with ends_with): `yes` when the A–Z-lowered,
  space-trimmed value matches — which implies Python's `strip().lower()` matches
  too — and `no` only when the value itself is printable ASCII, where Python's
  `strip()` and `lower()` are SQL's `trim()` and A–Z lowering;
* `email_domain` as the text column, for leads whose stored domain is not empty.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Collection

from sqlalchemy import BigInteger, Float, Table, and_, false, func, literal, not_, or_, true

from leadctl.fields import BY_NAME
from leadctl.rules.coerce import _is_number, _to_bool, _to_num
from leadctl.store.sqlfuncs import ascii_lower, has_visible_ascii, is_number, printable_ascii

_CMP = {"gt": "__gt__", "gte": "__ge__", "lt": "__lt__", "lte": "__le__"}


@dataclass(frozen=True)
class Sure:
    """When a condition surely holds (`yes`) and surely does not (`no`), as SQL."""

    yes: Any
    no: Any

    @property
    def useful(self) -> bool:
        return not (_is_false(self.yes) and _is_false(self.no))


UNSURE = Sure(false(), false())


def _is_false(x) -> bool:
    return x is UNSURE.yes or getattr(x, "_is_false_literal", False) is True or str(x) == "false"


def condition_sql(spec: Any, table: Table, readable: Collection[str]) -> Sure:
    """The (yes, no) SQL of a `when:` spec over `table`'s columns named in `readable`."""
    try:
        return _node(spec, table, frozenset(readable))
    except RecursionError:
        return UNSURE


def _all(parts: list[Sure]) -> Sure:
    if not parts:
        return Sure(true(), false())
    if len(parts) == 1:
        return parts[0]
    return Sure(and_(*[p.yes for p in parts]), or_(*[p.no for p in parts]))


def _any(parts: list[Sure]) -> Sure:
    if not parts:
        return Sure(false(), true())
    if len(parts) == 1:
        return parts[0]
    return Sure(or_(*[p.yes for p in parts]), and_(*[p.no for p in parts]))


def _node(spec, table: Table, readable: frozenset[str]) -> Sure:
    if spec is None:
        return Sure(true(), false())
    if isinstance(spec, list):
        return _all([_node(s, table, readable) for s in spec])
    if not isinstance(spec, dict) or not spec:
        return UNSURE
    parts = []
    for key, value in spec.items():
        if key in ("all", "any"):
            items = value if isinstance(value, list) else [value] if isinstance(value, dict) else None
            if items is None:
                return UNSURE
            sub = [_node(i, table, readable) for i in items]
            parts.append(_all(sub) if key == "all" else _any(sub))
        elif key == "not":
            if not isinstance(value, (dict, list)):
                return UNSURE
            s = _node(value, table, readable)
            parts.append(Sure(s.no, s.yes))
        elif isinstance(key, str):
            parts.append(_field(key, value, table, readable))
        else:
            return UNSURE
    return _all(parts)


def _field(name: str, value, table: Table, readable: frozenset[str]) -> Sure:
    if name not in readable or name not in table.c or name not in BY_NAME:
        return UNSURE
    col = table.c[name]
    kind = BY_NAME[name].type
    if isinstance(value, dict):
        ops = list(value.items())
    elif isinstance(value, list):
        ops = [("in", value)]
    else:
        ops = [("eq", value)]
    if not ops:
        return UNSURE
    if kind in ("int", "float"):
        parts = [_number(col, op, arg) for op, arg in ops]
    elif kind == "text":
        parts = [_text(col, op, arg) for op, arg in ops]
        if name == "email_domain":  # an empty stored domain is derived from the e-mail: Python's case
            stored = and_(col.is_not(None), col != "")
            parts = [Sure(and_(stored, p.yes), and_(stored, p.no)) for p in parts]
    else:
        return UNSURE
    return _all(parts)


# ---------------------------------------------------------------- numbers
def _const_number(c) -> float | int | None:
    """A finite number constant as Python's condition reads it, else None."""
    if isinstance(c, bool):
        return None
    n = c if _is_number(c) else _to_num(c) if isinstance(c, str) else None
    if n is None or not math.isfinite(n) or abs(n) >= 2 ** 53:
        return None
    return n


def _bound(n: float | int):
    """The constant with its own type: a float compared with an integer column must stay a float."""
    return literal(n, Float() if isinstance(n, float) else BigInteger())


def _number(col, op: str, arg) -> Sure:
    num = is_number(col)
    missing = col.is_(None)
    if op in ("exists", "missing"):
        want = _to_bool(arg) if not isinstance(arg, (list, dict)) else None
        if want is None:
            return UNSURE
        if op == "missing":
            want = not want
        present = Sure(num, missing)
        return present if want else Sure(present.no, present.yes)
    if op in ("eq", "ne", "gt", "gte", "lt", "lte"):
        n = _const_number(arg)
        if n is None:
            return UNSURE
        c = _bound(n)
        test = col == c if op in ("eq", "ne") else getattr(col, _CMP[op])(c)
        sure = Sure(and_(num, test), or_(missing, and_(num, not_(test))))
        return Sure(sure.no, sure.yes) if op == "ne" else sure
    if op in ("in", "not_in"):
        items = arg if isinstance(arg, list) else [arg]
        nums = [_const_number(c) for c in items]
        if not items or any(n is None for n in nums):
            return UNSURE
        test = col.in_([_bound(n) for n in nums if n is not None])
        sure = Sure(and_(num, test), or_(missing, and_(num, not_(test))))
        return Sure(sure.no, sure.yes) if op == "not_in" else sure
    if op == "between":
        if not isinstance(arg, list) or len(arg) != 2:
            return UNSURE
        lo, hi = _const_number(arg[0]), _const_number(arg[1])
        if lo is None or hi is None:
            return UNSURE
        test = and_(col >= _bound(lo), col <= _bound(hi))
        return Sure(and_(num, test), or_(missing, and_(num, not_(test))))
    return UNSURE


# ---------------------------------------------------------------- text
def _printable(s: str) -> bool:
    return all(" " <= ch <= "~" for ch in s)


def _text(col, op: str, arg) -> Sure:
    missing = col.is_(None)
    plain = and_(col.is_not(None), printable_ascii(col))
    if op in ("exists", "missing"):
        want = _to_bool(arg) if not isinstance(arg, (list, dict)) else None
        if want is None:
            return UNSURE
        if op == "missing":
            want = not want
        present = Sure(and_(col.is_not(None), has_visible_ascii(col)),
                       or_(missing, and_(plain, not_(has_visible_ascii(col)))))
        return present if want else Sure(present.no, present.yes)
    if op in ("eq", "ne", "in", "not_in"):
        items = arg if isinstance(arg, list) else [arg]
        if not items or not all(isinstance(c, str) for c in items):
            return UNSURE
        # `in` with a number-like item also compares numbers (rules/matchers.py): left to Python.
        if op in ("in", "not_in") and any(_to_num(c) is not None for c in items):
            return UNSURE
        wanted = sorted({c.strip().lower() for c in items})
        if not all(_printable(s) for s in wanted):
            return UNSURE
        value = ascii_lower(func.trim(col))
        test = value == wanted[0] if len(wanted) == 1 else value.in_(wanted)
        sure = Sure(and_(col.is_not(None), test), or_(missing, and_(plain, not_(test))))
        return Sure(sure.no, sure.yes) if op in ("ne", "not_in") else sure
    if op in ("contains", "not_contains", "starts_with", "ends_with"):
        items = arg if isinstance(arg, list) else [arg]
        if not items or any(c is None or isinstance(c, (list, dict, bool)) for c in items):
            return UNSURE
        subs = [str(c).lower() for c in items]
        if not all(s and _printable(s) for s in subs):
            return UNSURE
        value = ascii_lower(col)
        method = {"starts_with": "startswith", "ends_with": "endswith"}.get(op, "contains")
        test = or_(*[getattr(value, method)(s, autoescape=True) for s in subs])
        sure = Sure(and_(col.is_not(None), test), or_(missing, and_(plain, not_(test))))
        return Sure(sure.no, sure.yes) if op == "not_contains" else sure
    return UNSURE
