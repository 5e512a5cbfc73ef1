"""The compiler: a `when:` spec becomes a Condition, with every mistake collected as a RuleProblem."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Callable, Mapping

import regex

from leadctl.errors import LeadctlError, RuleProblem, RulesError
from leadctl.fields import DAYS_SINCE
from leadctl.rules.coerce import _is_number, _parse_const_date, _text, _to_bool, _to_dt, _to_num
from leadctl.rules.durations import DurationError, parse_duration
from leadctl.rules.matchers import (
    _NUMERIC,
    _all,
    _any,
    _date_cmp,
    _eq_matcher,
    _false,
    _in_matcher,
    _not,
    _pred,
    _true,
    _wrap,
    _wrap_now,
)
from leadctl.rules.vocabulary import _OPERATOR_SYNONYMS, COMBINATORS, OPERATORS, _activity_field, _Field, lead_field
from leadctl.words import did_you_mean

REGEX_TIMEOUT = 0.05  # seconds per match; a rule regex that needs longer is broken
REGEX_MEMO = 20_000   # distinct values remembered per `matches` test


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


ALWAYS = Condition(_true, frozenset(), None)


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
            f = lead_field(name)
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
