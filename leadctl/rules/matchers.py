"""Predicates and value matchers: the building blocks a compiled condition is made of."""
from __future__ import annotations

from datetime import date, datetime
from functools import cache

from leadctl.rules.coerce import _is_number, _parse_const_date, _to_bool, _to_dt, _to_num
from leadctl.rules.vocabulary import _Field
from leadctl.words import FALSE_WORDS, TRUE_WORDS


def _true(lead, now):
    return True


def _false(lead, now):
    return False


# ---------------------------------------------------------------- predicates
# Predicates are generated from small source templates (like namedtuple does): reading the
# field and testing it in one function saves a Python call per evaluation, which is most of
# the cost when a million leads meet thirty rules.
_ACCESS_SRC = {
    "key": "v = lead.get(K)",
    "attr": "a = lead.get('attributes')\n    v = a.get(K) if a else None",
    "count": "a = lead.get('activity')\n    e = a.get(K) if a else None\n    v = e[0] if e else 0",
    "get": "v = G(lead, now)",
}


@cache
def _code(src: str):
    return compile(src, "<leadctl condition>", "exec")


def _pred(f: _Field, test: str, missing: str | None, **env):
    """pred(lead, now): read the field into `v`, return `missing` if None, else `test`."""
    if f.key is not None:
        mode, k = "key", f.key
    elif f.attr is not None:
        mode, k = "attr", f.attr
    elif f.count is not None:
        mode, k = "count", f.count
    else:
        mode, k = "get", None
    src = f"def p(lead, now):\n    {_ACCESS_SRC[mode]}\n"
    if missing is not None:
        src += f"    if v is None:\n        return {missing}\n"
    src += f"    return {test}\n"
    ns = {"K": k, "G": f.get, **env}
    exec(_code(src), ns)  # noqa: S102 - fixed templates, constants passed as names, never user text
    return ns["p"]


def _wrap(f: _Field, m, missing: bool):
    """pred for a value matcher m(v) (v never None); a missing value gives `missing`."""
    return _pred(f, "M(v)", "True" if missing else "False", M=m)


def _wrap_now(f: _Field, m):
    """pred for a matcher that needs `now`: m(v, now); missing → False."""
    return _pred(f, "M(v, now)", "False", M=m)


_NUMERIC = "(type(v) is int or type(v) is float)"


def _all(preds):
    if not preds:
        return _true
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda lead, now: a(lead, now) and b(lead, now)
    if len(preds) == 3:
        a, b, c = preds
        return lambda lead, now: a(lead, now) and b(lead, now) and c(lead, now)
    preds = tuple(preds)

    def p(lead, now):
        for q in preds:
            if not q(lead, now):
                return False
        return True
    return p


def _any(preds):
    if not preds:
        return _false
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda lead, now: a(lead, now) or b(lead, now)
    preds = tuple(preds)

    def p(lead, now):
        for q in preds:
            if q(lead, now):
                return True
        return False
    return p


def _not(pred):
    return lambda lead, now: not pred(lead, now)


# ---------------------------------------------------------------- matchers
def _eq_matcher(c):
    """m(v) for `eq c` with v not None; c a scalar constant."""
    if isinstance(c, bool):
        def m(v):
            if type(v) is bool:
                return v is c
            return _to_bool(v) is c
        return m
    if _is_number(c):
        n = c

        def m(v):
            t = type(v)
            if t is int or t is float:
                return v == n
            if t is str:
                try:
                    return float(v) == n
                except ValueError:
                    return False
            if t is bool:
                return (1 if v else 0) == n
            x = _to_num(v)
            return x is not None and x == n
        return m
    if isinstance(c, (date, datetime)):
        d = _parse_const_date(c)
        if isinstance(d, datetime):
            return lambda v: _to_dt(v) == d
        return lambda v: (x := _to_dt(v)) is not None and x.date() == d
    s = str(c).strip().lower()
    n = _to_num(s)
    b = True if s in TRUE_WORDS else False if s in FALSE_WORDS else None
    d = _parse_const_date(s) if s[:1].isdigit() else None

    def m(v):
        t = type(v)
        if t is str:
            return v.strip().lower() == s
        if t is int or t is float:
            return n is not None and v == n
        if t is bool:
            return b is not None and v is b
        if d is not None and isinstance(v, date):
            x = _to_dt(v)
            return x == d if isinstance(d, datetime) else x.date() == d
        return str(v).strip().lower() == s
    return m


def _in_matcher(items):
    strs = set()
    nums = set()
    bools = set()
    others = []
    for c in items:
        if isinstance(c, bool):
            bools.add(c)
        elif _is_number(c):
            nums.add(c)
        elif isinstance(c, (date, datetime)):
            others.append(_eq_matcher(c))
        else:
            s = str(c).strip().lower()
            strs.add(s)
            n = _to_num(s)
            if n is not None:
                nums.add(n)
            if s in TRUE_WORDS:
                bools.add(True)
            elif s in FALSE_WORDS:
                bools.add(False)
    strs, nums, bools, others = frozenset(strs), frozenset(nums), frozenset(bools), tuple(others)
    if not nums and not bools and not others:
        def m(v):
            if type(v) is str:
                return v.strip().lower() in strs
            if type(v) is bool or type(v) is int or type(v) is float:
                return False
            return str(v).strip().lower() in strs
        return m

    def m(v):
        t = type(v)
        if t is str:
            s = v.strip().lower()
            if s in strs:
                return True
            if nums:
                try:
                    return float(s) in nums
                except ValueError:
                    return False
            return False
        if t is bool:
            return v in bools
        if t is int or t is float:
            return v in nums
        for o in others:
            if o(v):
                return True
        return str(v).strip().lower() in strs
    return m


_CMP = {
    "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
}


def _date_cmp(op: str, d):
    """m(v) comparing a date-ish value with a date (calendar days) or datetime (instants)."""
    cmp = _CMP[op]
    if isinstance(d, datetime):
        def m(v):
            x = _to_dt(v)
            return x is not None and cmp(x, d)
    else:
        def m(v):
            x = _to_dt(v)
            return x is not None and cmp(x.date(), d)
    return m
