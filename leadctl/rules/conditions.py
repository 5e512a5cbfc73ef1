"""The `when:` condition language, compiled once into fast predicates.

    cond = compile_condition({"employees": {"gte": 200}, "country": ["DE", "FR"]},
                             label="Enterprise EU", problems=problems)
    cond(lead, now)        # -> bool; lead is a plain dict, now a naive UTC datetime
    cond.fields            # frozenset({"employees", "country"})
    cond.source            # the spec as written, for `leads explain`

Semantics (docs/rules.md states the contract; these are the details it leaves open):

* Text compares case-insensitively and ignores surrounding spaces for `eq ne in
  not_in`; `contains starts_with ends_with` are case-insensitive; `matches` uses
  the regex exactly as written (add `(?i)` for case-insensitive) and *searches*.
* A number and a numeric string compare numerically (`attributes.seats: {gte: 10}`
  holds for "12"); `between: [a, b]` is inclusive.
* Booleans: `true` matches True and the words of `words.TRUE_WORDS` ("true/yes/y/1/on",
  a checkbox's "x", "checked" or tick; `false` the opposite, `words.FALSE_WORDS`);
  `do_not_contact: yes` works the same as `do_not_contact: true`.
* Missing (None / absent) never satisfies `eq gt gte lt lte between in contains
  starts_with ends_with matches within older_than before after` and always
  satisfies `ne not_in not_contains`. `exists: false` (or `missing: true`) also
  holds for empty or blank text.
* Dates: `within: 14d` holds when the time is at most 14 days before `now`; a time
  in the future also counts as within. `older_than: 30d` holds when it is more than
  30 days before `now`. `before`/`after` with a date compare calendar days
  (`after: 2026-01-01` means from 2 January on); with a date-time they compare
  instants. `gt/gte/lt/lte` with a date work like `after/-/before/-` on days.
  Text values that look like ISO dates (custom attributes) are read as dates.
* `all`, `any`, `not` nest freely and may sit beside field keys (all must hold);
  a list where a mapping is expected means "all of these".
* Extensions: `missing: true` (= `exists: false`), `contains`/`starts_with`/
  `ends_with` with a list (any of them), and `activity.<type>.count/.last`
  for any activity type.

Mistakes are collected as RuleProblem (file, line, message) rather than raised one
by one, so a folder reports everything at once.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import cache
from typing import Any, Callable, Mapping

import regex

from leadctl.errors import LeadctlError, RuleProblem, RulesError
from leadctl.fields import CONDITION, DAYS_SINCE, names_of_type
from leadctl.rules.durations import DurationError, parse_duration
from leadctl.words import FALSE_WORDS, TRUE_WORDS, activity_key, did_you_mean

REGEX_TIMEOUT = 0.05  # seconds per match; a rule regex that needs longer is broken
REGEX_MEMO = 20_000   # distinct values remembered per `matches` test

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


class RuleTimeout(LeadctlError):
    """A rule's regular expression took too long on a value (catastrophic backtracking)."""


class Condition:
    """A compiled `when:`; call it as `cond(lead, now) -> bool`.

    `test` is the bare function (call it directly in hot loops), `fields` every field
    name referenced, `source` the spec as written, `label` the owning rule's name.
    """

    __slots__ = ("test", "fields", "source", "label")

    def __init__(self, test: Callable[[Mapping, datetime], bool], fields: frozenset[str] = frozenset(),
                 source: Any = None, label: str | None = None):
        self.test = test
        self.fields = fields
        self.source = source
        self.label = label

    def __call__(self, lead: Mapping, now: datetime) -> bool:
        return self.test(lead, now)

    @property
    def always(self) -> bool:
        return self.source is None

    def __repr__(self) -> str:
        return f"Condition({self.source!r})"


def _true(lead, now):
    return True


def _false(lead, now):
    return False


ALWAYS = Condition(_true, frozenset(), None)


# ---------------------------------------------------------------- value coercion
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


# ---------------------------------------------------------------- field access
class _Field:
    """How to read one field: a plain key, an attribute, an activity count, or `get(lead, now)`."""

    __slots__ = ("name", "kind", "key", "get", "attr", "count")

    def __init__(self, name, kind, key=None, get=None, attr=None, count=None):
        self.name, self.kind, self.key, self.get = name, kind, key, get
        self.attr, self.count = attr, count


def _lead_field(name: str) -> _Field | str:
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


def _wrap_raw(f: _Field, m):
    """pred for a matcher that handles None itself."""
    return _pred(f, "M(v)", None, M=m)


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


def _num_cmp(op: str, n):
    """m(v) comparing a value numerically with n (numeric strings included)."""
    if op == "gt":
        def m(v):
            t = type(v)
            if t is int or t is float:
                return v > n
            x = _to_num(v)
            return x is not None and x > n
    elif op == "gte":
        def m(v):
            t = type(v)
            if t is int or t is float:
                return v >= n
            x = _to_num(v)
            return x is not None and x >= n
    elif op == "lt":
        def m(v):
            t = type(v)
            if t is int or t is float:
                return v < n
            x = _to_num(v)
            return x is not None and x < n
    else:
        def m(v):
            t = type(v)
            if t is int or t is float:
                return v <= n
            x = _to_num(v)
            return x is not None and x <= n
    return m


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


class _Compiler:
    def __init__(self, problems, file, where, label, mode):
        self.problems = problems
        self.file = file
        self.where = where
        self.label = label
        self.mode = mode
        self.fields: set[str] = set()
        self.errors = 0

    # -- reporting
    def err(self, path: tuple, message: str) -> None:
        line = None
        if self.where is not None:
            try:
                line = self.where(path)
            except Exception:  # a broken line lookup must not hide the real problem
                line = None
        prefix = f"rule '{self.label}': " if self.label else ""
        self.problems.append(RuleProblem(self.file, line, prefix + message))
        self.errors += 1

    # -- structure
    def node(self, spec, path: tuple):
        if spec is None:
            return _true
        if isinstance(spec, list):
            return _all([p for i, item in enumerate(spec) if (p := self.node(item, path + (i,))) is not None])
        if not isinstance(spec, dict):
            self.err(path, f"a condition must be a mapping like {{field: value}}, got {spec!r}")
            return None
        if not spec:
            self.err(path, "empty condition {} (leave out `when` for \"always\")")
            return None
        preds = []
        for key, value in spec.items():
            kpath = path + (key,)
            if key in ("all", "any"):
                items = value if isinstance(value, list) else [value] if isinstance(value, dict) else None
                if items is None:
                    self.err(kpath, f"'{key}' needs a list of conditions")
                    continue
                sub = [self.node(item, kpath + (i,)) for i, item in enumerate(items)]
                if any(s is None for s in sub):
                    continue
                preds.append(_all(sub) if key == "all" else _any(sub))
            elif key == "not":
                if not isinstance(value, (dict, list)):
                    self.err(kpath, "'not' needs a condition mapping")
                    continue
                sub = self.node(value, kpath)
                if sub is not None:
                    preds.append(_not(sub))
            elif not isinstance(key, str) or not key.strip():
                self.err(kpath, f"unknown field {key!r}")
            else:
                p = self.field(key, value, kpath)
                if p is not None:
                    preds.append(p)
        return _all(preds)

    def resolve_field(self, name: str, path: tuple) -> _Field | None:
        if self.mode == "activity":
            f = _activity_field(name)
        else:
            f = _lead_field(name)
            if isinstance(f, str):
                hint = ""
                if name in OPERATORS:
                    hint = ""  # an operator where a field belongs: the message says "unknown field"
                self.err(path, f + hint)
                return None
        self.fields.add(name)
        return f

    def field(self, name: str, value, path: tuple):
        f = self.resolve_field(name, path)
        if isinstance(value, dict):
            if not value:
                self.err(path, f"field '{name}': no operator given (use one of {', '.join(OPERATORS)})")
                return None
            preds = []
            for op, arg in value.items():
                opath = path + (op,)
                if op not in OPERATORS:
                    hint = did_you_mean(str(op), OPERATORS, _OPERATOR_SYNONYMS)
                    if op in COMBINATORS:
                        self.err(opath, f"'{op}' cannot sit inside field '{name}'; "
                                        f"write {{{op}: [{{{name}: ...}}]}}")
                    else:
                        self.err(opath, f"unknown operator '{op}'{hint}")
                    continue
                if f is None:
                    continue
                p = self.op(f, op, arg, opath)
                if p is not None:
                    preds.append(p)
            return _all(preds) if f is not None and len(preds) == len(value) else None
        if f is None:
            return None
        if isinstance(value, list):
            return self.op(f, "in", value, path)
        return self.op(f, "eq", value, path)

    # -- operators
    def op(self, f: _Field, op: str, arg, path: tuple):
        name, kind = f.name, f.kind
        if op in ("eq", "ne"):
            if arg is None:
                self.err(path, f"field '{name}': null is not a value (use {{exists: false}})")
                return None
            if isinstance(arg, (list, dict)):
                self.err(path, f"field '{name}': '{op}' needs a single value"
                         + (" (use 'in' for a list)" if isinstance(arg, list) else ""))
                return None
            if not self.check_const(f, op, arg, path):
                return None
            m = _eq_matcher(arg)
            if isinstance(arg, str):  # the common case, tested inline
                s = arg.strip().lower()
                if op == "eq":
                    return _pred(f, "(v.strip().lower() == S) if type(v) is str else M(v)", "False", S=s, M=m)
                return _pred(f, "(v.strip().lower() != S) if type(v) is str else not M(v)", "True", S=s, M=m)
            if op == "eq":
                return _wrap(f, m, False)
            return _wrap(f, lambda v: not m(v), True)
        if op in ("in", "not_in"):
            items = arg if isinstance(arg, list) else [arg]
            for i, c in enumerate(items):
                if c is None or isinstance(c, (list, dict)):
                    self.err(path + ((i,) if isinstance(arg, list) else ()),
                             f"field '{name}': '{op}' needs a list of plain values, got {c!r}")
                    return None
                if not self.check_const(f, op, c, path):
                    return None
            m = _in_matcher(items)
            if all(isinstance(c, str) and _to_num(c) is None for c in items):
                s = frozenset(c.strip().lower() for c in items)
                if op == "in":
                    return _pred(f, "(v.strip().lower() in S) if type(v) is str else M(v)", "False", S=s, M=m)
                return _pred(f, "(v.strip().lower() not in S) if type(v) is str else not M(v)", "True",
                             S=s, M=m)
            if op == "in":
                return _wrap(f, m, False)
            return _wrap(f, lambda v: not m(v), True)
        if op in ("gt", "gte", "lt", "lte"):
            return self.compare(f, op, arg, path)
        if op == "between":
            if not isinstance(arg, list) or len(arg) != 2:
                self.err(path, f"field '{name}': 'between' needs two values, like [10, 50]")
                return None
            lo = self.compare(f, "gte", arg[0], path + (0,))
            hi = self.compare(f, "lte", arg[1], path + (1,))
            if lo is None or hi is None:
                return None
            a, b = self._ordered(arg[0]), self._ordered(arg[1])
            if a is not None and b is not None and type(a) is type(b) and a > b:
                self.err(path, f"field '{name}': 'between' needs the smaller value first, got {arg!r}")
                return None
            if type(a) is float and type(b) is float:
                return _pred(f, f"(LO <= v <= HI) if {_NUMERIC} else "
                                "((x := TONUM(v)) is not None and LO <= x <= HI)", "False",
                             LO=a, HI=b, TONUM=_to_num)
            return _all([lo, hi])
        if op in ("contains", "not_contains", "starts_with", "ends_with"):
            items = arg if isinstance(arg, list) else [arg]
            subs = []
            for c in items:
                if c is None or isinstance(c, (list, dict, bool)) or (isinstance(c, str) and c == ""):
                    self.err(path, f"field '{name}': '{op}' needs text, got {c!r}")
                    return None
                subs.append(str(c).lower())
            subs = tuple(subs)
            if op == "starts_with":
                return _wrap(f, lambda v: _text(v).lower().startswith(subs), False)
            if op == "ends_with":
                return _wrap(f, lambda v: _text(v).lower().endswith(subs), False)
            if len(subs) == 1:
                s = subs[0]
                m = lambda v: s in _text(v).lower()  # noqa: E731
            else:
                m = lambda v: any(s in _text(v).lower() for s in subs)  # noqa: E731
            if op == "contains":
                return _wrap(f, m, False)
            return _wrap(f, lambda v: not m(v), True)
        if op == "matches":
            return self.matches(f, arg, path)
        if op in ("exists", "missing"):
            want = _to_bool(arg) if not isinstance(arg, (list, dict)) else None
            if want is None:
                self.err(path, f"field '{name}': '{op}' needs true or false, got {arg!r}")
                return None
            if op == "missing":
                want = not want

            return _pred(f, "(v is not None and not (type(v) is str and not v.strip())) is W", None, W=want)
        if op in ("within", "older_than"):
            if kind in ("number", "text", "bool"):
                self.err(path, f"field '{name}': '{op}' needs a date field such as created_at, "
                               f"last_activity_at or activity.<type>.last"
                         + (f" (for {name} use gte/lte with a number of days)" if name in DAYS_SINCE else ""))
                return None
            try:
                td = parse_duration(arg)
            except DurationError as exc:
                self.err(path, f"field '{name}': {exc.message}")
                return None
            return self.relative(f, op, td)
        if op in ("before", "after"):
            d = _parse_const_date(arg) if not isinstance(arg, bool) else None
            if d is None:
                self.err(path, f"field '{name}': '{op}' needs a date like 2026-01-31, got {arg!r}"
                         + (" (for a duration use within/older_than)" if isinstance(arg, str)
                            and _looks_like_duration(arg) else ""))
                return None
            if kind in ("number", "text", "bool"):
                self.err(path, f"field '{name}': '{op}' needs a date field")
                return None
            return _wrap(f, _date_cmp("lt" if op == "before" else "gt", d), False)
        raise AssertionError(op)  # pragma: no cover - OPERATORS and this method agree

    @staticmethod
    def _ordered(c):
        if _is_number(c):
            return float(c)
        if isinstance(c, str):
            n = _to_num(c)
            if n is not None:
                return float(n)
        d = _parse_const_date(c)
        if isinstance(d, datetime):
            return d
        if isinstance(d, date):
            return datetime(d.year, d.month, d.day)
        return None

    def check_const(self, f: _Field, op: str, c, path) -> bool:
        """Refuse constants that can never match a typed lead column."""
        if f.kind == "number" and not _is_number(c) and _to_num(c) is None:
            self.err(path, f"field '{f.name}' is a number; '{op}' got {c!r}")
            return False
        if f.kind == "date" and _parse_const_date(c) is None:
            self.err(path, f"field '{f.name}' is a date; '{op}' got {c!r} "
                           "(use a date like 2026-01-31, or within/older_than)")
            return False
        if f.kind == "bool" and _to_bool(c) is None:
            self.err(path, f"field '{f.name}' is true or false; '{op}' got {c!r}")
            return False
        return True

    def compare(self, f: _Field, op: str, c, path):
        name, kind = f.name, f.kind
        if _is_number(c) or (isinstance(c, str) and _to_num(c) is not None):
            if kind in ("date", "bool"):
                self.err(path, f"field '{name}' is a {'date' if kind == 'date' else 'true/false'} "
                               f"value; '{op}' got the number {c!r}")
                return None
            n = c if _is_number(c) else _to_num(c)
            sym = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
            return _pred(f, f"(v {sym} N) if {_NUMERIC} else ((x := TONUM(v)) is not None and x {sym} N)",
                         "False", N=n, TONUM=_to_num)
        if not isinstance(c, bool):
            d = _parse_const_date(c)
            if d is not None:
                if kind in ("number", "bool"):
                    self.err(path, f"field '{name}' is a number; '{op}' got the date {c!r}")
                    return None
                return _wrap(f, _date_cmp(op, d), False)
        hint = ""
        if isinstance(c, str) and _looks_like_duration(c):
            hint = " (for a duration use within/older_than, or days_since_* with a number)"
        self.err(path, f"field '{name}': '{op}' needs a number or a date, got {c!r}{hint}")
        return None

    def relative(self, f: _Field, op: str, td: timedelta):
        cache = [None, None]  # (now, now - td): `now` is the same for a whole batch

        if op == "within":
            def m(v, now):
                if now is not cache[0]:
                    cache[0], cache[1] = now, now - td
                x = v if type(v) is datetime and v.tzinfo is None else _to_dt(v)
                return x is not None and x >= cache[1]
        else:
            def m(v, now):
                if now is not cache[0]:
                    cache[0], cache[1] = now, now - td
                x = v if type(v) is datetime and v.tzinfo is None else _to_dt(v)
                return x is not None and x < cache[1]
        return _wrap_now(f, m)

    def matches(self, f: _Field, pattern, path):
        if not isinstance(pattern, str) or not pattern:
            self.err(path, f"field '{f.name}': 'matches' needs a regular expression as text, got {pattern!r}")
            return None
        try:
            rx = regex.compile(pattern)
        except (regex.error, ValueError, OverflowError, RecursionError) as exc:
            self.err(path, f"field '{f.name}': bad regex {pattern!r}: {exc}")
            return None
        search = rx.search
        label, file, name = self.label, self.file, f.name
        line = None
        if self.where is not None:
            try:
                line = self.where(path)
            except Exception:
                line = None

        # Field values repeat (titles, industries): remember answers, so the timeout-guarded
        # search (slow to set up) runs once per distinct value.
        memo: dict[str, bool] = {}

        def m(v):
            text = v if type(v) is str else str(v)
            hit = memo.get(text)
            if hit is not None:
                return hit
            try:
                hit = search(text, timeout=REGEX_TIMEOUT) is not None
            except TimeoutError:
                who = f"rule '{label}': " if label else ""
                raise RuleTimeout(
                    f"{who}regex {pattern!r} on field '{name}' took longer than {REGEX_TIMEOUT}s "
                    "(catastrophic backtracking); simplify the pattern",
                    file=file, line=line, field=name) from None
            if len(memo) >= REGEX_MEMO:
                memo.clear()
            memo[text] = hit
            return hit
        return _wrap(f, m, False)


def _looks_like_duration(s: str) -> bool:
    try:
        parse_duration(s)
        return True
    except DurationError:
        return False


def compile_condition(spec: Any, *, problems: list[RuleProblem] | None = None, file: str = "<rules>",
                      where: Callable[[tuple], int | None] | None = None, label: str | None = None,
                      mode: str = "lead") -> Condition:
    """Compile a `when:` value into a Condition.

    `where(path)` gives the 1-based line of a path *inside* `spec` (e.g. `("title", "matches")`);
    `label` is the rule's name, used in every message; `mode` is "lead" (lead fields,
    checked) or "activity" (an activity record's fields, any name allowed).
    Problems are appended to `problems`; without that list a RulesError is raised.
    A spec with problems compiles to a condition that never holds.
    """
    if mode not in ("lead", "activity"):
        raise ValueError(f"mode must be 'lead' or 'activity', not {mode!r}")
    if spec is None:
        return ALWAYS
    own = problems is None
    sink: list[RuleProblem] = [] if own else problems
    c = _Compiler(sink, file, where, label, mode)
    try:
        test = c.node(spec, ())
    except RecursionError:
        c.err((), "condition is nested too deeply")
        test = None
    if c.errors or test is None:
        if own:
            raise RulesError(sink)
        test = _false
    return Condition(test, frozenset(c.fields), spec, label)


__all__ = ["ALWAYS", "Condition", "OPERATORS", "LEAD_COLUMNS", "DERIVED_FIELDS", "RuleTimeout",
           "compile_condition"]
