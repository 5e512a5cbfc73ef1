"""Load a rules folder into one typed, validated RuleSet — or report every problem at once.

    rules = load_rules("rules")        # raises RulesError listing every mistake in every file
    rules.scoring.fit.rules[0].when(lead, now)
    print(rules.summary())

A missing file means "no rules of that kind" (stages fall back to the default funnel).
`scoring.yml` is read when `scoring.yaml` is absent.
"""
from __future__ import annotations

import difflib
import os
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from leadctl.errors import RuleProblem, RulesError
from leadctl.rules.conditions import Condition, compile_condition, did_you_mean
from leadctl.rules.schema import (
    FILE_MODELS, FollowupsConfig, QualificationConfig, RoutingConfig, ScoringConfig,
    SourcesConfig, StagesConfig,
)
from leadctl.rules.yamlload import LineMap, YamlProblems, load_yaml

# Where `when:`-style conditions sit in each file: (list key path, condition keys).
_CONDITION_SITES: dict[str, tuple[tuple[tuple, tuple[str, ...]], ...]] = {
    "scoring.yaml": ((("fit", "rules"), ("when",)), (("engagement", "rules"), ("when",))),
    "qualification.yaml": ((("temperature",), ("when",)), (("stages",), ("when",))),
    "routing.yaml": ((("rules",), ("when",)), (("sla",), ("when",))),
    "followups.yaml": ((("cadences",), ("when", "stop_when")), (("inactivity",), ("when",))),
}
# Lists whose items must have distinct names: (file, list key paths sharing one namespace, noun).
_UNIQUE_SITES = (
    ("scoring.yaml", (("fit", "rules"), ("engagement", "rules")), "rule name"),
    ("qualification.yaml", (("temperature",),), "temperature"),
    ("routing.yaml", (("owners",),), "owner"),
    ("routing.yaml", (("rules",),), "rule name"),
    ("routing.yaml", (("sla",),), "rule name"),
    ("followups.yaml", (("cadences",),), "cadence"),
    ("followups.yaml", (("inactivity",),), "rule name"),
    ("stages.yaml", (("stages",),), "stage"),
    ("sources.yaml", (("sources",),), "source"),
)
_NOUNS = {"owners": "owner", "sources": "source", "temperature": "temperature", "cadences": "cadence"}


@dataclass(frozen=True)
class RuleSet:
    """Every rule file of a folder, validated and compiled."""

    directory: str
    stages: StagesConfig
    scoring: ScoringConfig
    qualification: QualificationConfig
    routing: RoutingConfig
    followups: FollowupsConfig
    sources: SourcesConfig
    files_loaded: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        """One line, e.g. `rules/: 7 stages, 12 scoring rules (6 fit, 6 engagement), …`."""
        fit, eng = len(self.scoring.fit.rules), len(self.scoring.engagement.rules)
        d = self.directory if self.directory.endswith(("/", os.sep)) else self.directory + "/"
        parts = [
            _n(len(self.stages.stages), "stage"),
            f"{_n(fit + eng, 'scoring rule')} ({fit} fit, {eng} engagement)",
            _n(len(self.qualification.temperature), "temperature"),
            _n(len(self.qualification.stages), "stage rule"),
            _n(len(self.routing.owners), "owner"),
            _n(len(self.routing.rules), "routing rule"),
            _n(len(self.routing.sla), "SLA rule"),
            _n(len(self.followups.cadences), "cadence"),
            _n(len(self.followups.inactivity), "inactivity rule"),
            _n(len(self.sources.sources), "source"),
        ]
        return f"{d}: " + ", ".join(parts)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class _FileState:
    def __init__(self, name: str, display: str):
        self.name = name
        self.display = display
        self.data: Any = None
        self.lines = LineMap()
        self.model: Any = None
        self.conditions: list[tuple[tuple, Any, str | None]] = []  # (path, spec, label)


def load_rules(directory: str | os.PathLike) -> RuleSet:
    """Read, validate and compile the rules folder; raise RulesError with every problem."""
    shown = os.fspath(directory)
    if not os.path.isdir(directory):
        if os.path.exists(directory):
            raise RulesError([RuleProblem(shown, None, f"not a folder: {shown} (--rules names the rules folder)")])
        raise RulesError([RuleProblem(shown, None, f"rules folder not found: {shown} (run `leadctl init`)")])
    problems: list[RuleProblem] = []
    states: dict[str, _FileState] = {}
    loaded: list[str] = []

    present = set(os.listdir(directory))
    for stray in sorted(present):
        if stray.endswith((".yaml", ".yml")) and stray not in FILE_MODELS:
            base = stray.rsplit(".", 1)[0] + ".yaml"
            if base in FILE_MODELS:
                if base in present:
                    problems.append(RuleProblem(os.path.join(shown, stray), None,
                                                f"both {base} and {stray} exist; keep one"))
                continue
            close = difflib.get_close_matches(base, list(FILE_MODELS), n=1, cutoff=0.8)
            if close:
                problems.append(RuleProblem(os.path.join(shown, stray), None,
                                            f"unknown rule file '{stray}' (did you mean '{close[0]}'?)"))

    for name, model in FILE_MODELS.items():
        fname = name if name in present else name[:-5] + ".yml" if name[:-5] + ".yml" in present else None
        st = _FileState(name, os.path.join(shown, fname or name))
        states[name] = st
        if fname is None:
            st.model = model()
            continue
        loaded.append(fname)
        st.model = _load_file(st, os.path.join(directory, fname), model, problems)

    if all(st.model is not None for st in states.values()):
        _cross_checks(states, problems)

    if problems:
        raise RulesError(_ordered(problems, [st.display for st in states.values()]))
    return RuleSet(
        directory=shown,
        stages=states["stages.yaml"].model,
        scoring=states["scoring.yaml"].model,
        qualification=states["qualification.yaml"].model,
        routing=states["routing.yaml"].model,
        followups=states["followups.yaml"].model,
        sources=states["sources.yaml"].model,
        files_loaded=tuple(loaded),
    )


check_rules = load_rules


def _ordered(problems: list[RuleProblem], file_order: list[str]) -> list[RuleProblem]:
    rank = {f: i for i, f in enumerate(file_order)}
    return sorted(problems, key=lambda p: (rank.get(p.file, -1), p.line or 0))


def _load_file(st: _FileState, path: str, model: type[BaseModel], problems: list[RuleProblem]):
    before = len(problems)
    try:
        data, lines = load_yaml(path, display=st.display)
    except YamlProblems as exc:
        problems.extend(exc.problems)
        return None
    st.lines = lines
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(RuleProblem(st.display, lines.line(()),
                                    f"expected keys like {', '.join(_keys(model))}, got {type(data).__name__}"))
        return None
    st.data = data
    _check_unique(st, problems)
    _compile_conditions(st, problems)
    try:
        result = model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            problems.append(_problem_from(err, st, model))
        return None
    return None if len(problems) > before else result


def _keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _get(data, path):
    for p in path:
        if isinstance(data, dict) and p in data:
            data = data[p]
        elif isinstance(data, list) and isinstance(p, int) and 0 <= p < len(data):
            data = data[p]
        else:
            return None
    return data


def _label(st: _FileState, path: tuple) -> str | None:
    """`rule 'X'` / `owner 'dana'` for the innermost named list item on `path`."""
    found = None
    for i, p in enumerate(path):
        if isinstance(p, int) and i > 0 and isinstance(path[i - 1], str):
            item = _get(st.data, path[: i + 1])
            if isinstance(item, dict):
                listkey = path[i - 1]
                if listkey == "steps":
                    continue
                name = item.get("name")
                noun = "stage" if st.name == "stages.yaml" else _NOUNS.get(listkey, "rule")
                if isinstance(name, str) and name.strip():
                    found = f"{noun} '{name.strip()}'"
                elif st.name == "qualification.yaml" and listkey == "stages" and isinstance(item.get("to"), str):
                    found = f"rule 'to {item['to']}'"
                else:
                    found = f"{noun} #{p + 1} of {listkey}"
    return found


def _check_unique(st: _FileState, problems: list[RuleProblem]) -> None:
    for fname, sites, noun in _UNIQUE_SITES:
        if fname != st.name:
            continue
        seen: dict[str, int | None] = {}
        for site in sites:
            items = _get(st.data, site)
            if not isinstance(items, list):
                continue
            for i, item in enumerate(items):
                name = item.get("name") if isinstance(item, dict) else None
                if not isinstance(name, str):
                    continue
                key = " ".join(name.split()).casefold()
                line = st.lines.line(site + (i, "name"))
                if key in seen:
                    problems.append(RuleProblem(st.display, line,
                                                f"duplicate {noun} '{name.strip()}' (also on line {seen[key]})"))
                else:
                    seen[key] = line


def _compile_conditions(st: _FileState, problems: list[RuleProblem]) -> None:
    for site, keys in _CONDITION_SITES.get(st.name, ()):
        items = _get(st.data, site)
        if not isinstance(items, list):
            continue
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            for key in keys:
                if key not in item or isinstance(item[key], Condition):
                    continue
                base = site + (i, key)
                name = item.get("name")
                if isinstance(name, str) and name.strip():
                    label = name.strip()
                elif isinstance(item.get("to"), str):
                    label = f"to {item['to']}"
                else:
                    label = f"#{i + 1}"
                mode = "activity" if st.name == "scoring.yaml" and item.get("activity") is not None else "lead"
                spec = item[key]
                lines = st.lines
                item[key] = compile_condition(spec, problems=problems, file=st.display, label=label, mode=mode,
                                              where=lambda p, base=base, lines=lines: lines.line(base + tuple(p)))
                if mode == "lead":
                    st.conditions.append((base, spec, label))


# ---------------------------------------------------------------- pydantic errors → messages
def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        fields = {(f.alias or n): f for n, f in current.model_fields.items()}
        if part not in fields:
            return None
        current = _find_model(fields[part].annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _find_model(annotation) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _find_model(arg)
        if found is not None:
            return found
    return None


_KIND_WORDS = {
    "bool_parsing": "must be true or false", "bool_type": "must be true or false",
    "int_parsing": "must be a whole number", "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number", "float_type": "must be a number",
    "string_type": "must be text",
    "tuple_type": "must be a list", "list_type": "must be a list",
    "dict_type": "must be a mapping", "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "date_type": "must be a date like 2026-12-20", "date_parsing": "must be a date like 2026-12-20",
    "date_from_datetime_parsing": "must be a date like 2026-12-20",
    "date_from_datetime_inexact": "must be a date like 2026-12-20",
}


def _problem_from(err: dict, st: _FileState, model: type[BaseModel]) -> RuleProblem:
    loc = tuple(err.get("loc", ()))
    kind = err.get("type", "")
    value = err.get("input")
    keys = [p for p in loc if isinstance(p, str)]
    fieldname = keys[-1] if keys else None
    if kind == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        allowed = _keys(owner) if owner else []
        where = "top-level key" if len(loc) == 1 else "key"
        what = f"unknown {where} '{loc[-1]}'{did_you_mean(str(loc[-1]), allowed)}"
        if allowed and not did_you_mean(str(loc[-1]), allowed):
            what += f" (allowed: {', '.join(allowed)})"
    elif kind == "missing":
        what = f"missing '{loc[-1]}'"
    elif kind in ("value_error", "assertion_error"):
        msg = str(err.get("ctx", {}).get("error", err.get("msg", "")))
        what = _with_field(fieldname, msg, loc, value)
    elif kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        what = _with_field(fieldname, f"must be {expected}, got {value!r}", loc, value)
    elif kind in ("greater_than_equal", "greater_than"):
        limit = err.get("ctx", {}).get("ge", err.get("ctx", {}).get("gt"))
        what = _with_field(fieldname, f"must be {limit} or more, got {value!r}", loc, value)
    elif kind in _KIND_WORDS:
        got = "" if isinstance(value, (dict, list)) else f", got {value!r}"
        what = _with_field(fieldname, _KIND_WORDS[kind] + got, loc, value)
    else:
        what = _with_field(fieldname, err.get("msg", "invalid value"), loc, value)
    if loc == ("version",) and kind == "value_error":
        what = str(err.get("ctx", {}).get("error", ""))
    if loc and isinstance(loc[-1], int) and not isinstance(_get(st.data, loc[:-1]), list):
        what = what.replace(f"{fieldname} item {loc[-1] + 1} ", f"{fieldname} ", 1)  # a single value, not a list
    label = _label(st, loc)
    if label:
        what = f"{label}: {what}"
    return RuleProblem(st.display, st.lines.line(loc), what)


def _with_field(fieldname: str | None, msg: str, loc: tuple, value: Any = None) -> str:
    """`points must be a number, got 'ten'` / `within: bad duration …`; bare for whole-item checks."""
    if not loc or isinstance(value, dict):
        return msg
    last = loc[-1]
    if isinstance(last, int):
        if fieldname is None:
            return msg
        return f"{fieldname} item {last + 1} {msg}" if msg.startswith("must") else f"{fieldname}: {msg}"
    return f"{last} {msg}" if msg.startswith("must") else f"{last}: {msg}"


# ---------------------------------------------------------------- checks across files
def _cross_checks(states: dict[str, _FileState], problems: list[RuleProblem]) -> None:
    stages: StagesConfig = states["stages.yaml"].model
    qual_st = states["qualification.yaml"]
    qual: QualificationConfig = qual_st.model
    routing_st = states["routing.yaml"]
    routing: RoutingConfig = routing_st.model

    fixed = []
    for i, rule in enumerate(qual.stages):
        canonical = stages.resolve(rule.to)
        if canonical is None:
            problems.append(RuleProblem(qual_st.display, qual_st.lines.line(("stages", i, "to")),
                                        f"rule '{rule.label}': unknown stage '{rule.to}'"
                                        f"{did_you_mean(rule.to, stages.names)}"))
            fixed.append(rule)
        else:
            fixed.append(rule if canonical == rule.to else rule.model_copy(update={"to": canonical}))
    qual_st.model = qual.model_copy(update={"stages": tuple(fixed)})

    owners = [o.name for o in routing.owners]
    teams = list(routing.teams)

    def check_assign(assign, path, who, *, queue_ok=False):
        if assign is None:
            return
        # The fallback may name an owner not listed under owners: a shared queue (RULES.md:
        # `fallback: {owner: queue}`). Anywhere else an unknown owner is a typo.
        if assign.owner is not None and routing.owner(assign.owner) is None and not queue_ok:
            problems.append(RuleProblem(routing_st.display, routing_st.lines.line(path + ("owner",)),
                                        f"{who}: unknown owner '{assign.owner}'{did_you_mean(assign.owner, owners)}"))
        if assign.team is not None and not routing.members(assign.team):
            problems.append(RuleProblem(routing_st.display, routing_st.lines.line(path + ("team",)),
                                        f"{who}: unknown team '{assign.team}'{did_you_mean(assign.team, teams)}"
                                        + ("" if teams else " (no owner has a team)")))

    for i, rule in enumerate(routing.rules):
        check_assign(rule.assign, ("rules", i, "assign"), f"rule '{rule.name}'")
    check_assign(routing.fallback, ("fallback",), "fallback", queue_ok=True)

    # Stage and temperature names written in conditions must exist, or the rule silently never fires.
    temps = [t.name for t in qual.temperature]
    for st in states.values():
        for base, spec, label in st.conditions:
            for path, fieldname, value in _field_values(spec, ()):
                if fieldname == "stage":
                    ok, names, noun = stages.resolve(value) is not None, stages.names, "stage"
                elif fieldname == "temperature" and temps:
                    ok = str(value).strip().casefold() in {t.casefold() for t in temps}
                    names, noun = temps, "temperature"
                else:
                    continue
                if not ok:
                    problems.append(RuleProblem(st.display, st.lines.line(base + path),
                                                f"rule '{label}': unknown {noun} '{value}'"
                                                f"{did_you_mean(str(value), names)}"))


def _field_values(spec, path):
    """(path, field, constant) for equality-style tests (`f: v`, `f: [..]`, eq/ne/in/not_in)."""
    if isinstance(spec, list):
        for i, item in enumerate(spec):
            yield from _field_values(item, path + (i,))
        return
    if not isinstance(spec, dict):
        return
    for key, value in spec.items():
        if key in ("all", "any", "not"):
            yield from _field_values(value, path + (key,))
        elif isinstance(value, dict):
            for op, arg in value.items():
                if op in ("eq", "ne", "in", "not_in"):
                    for i, v in enumerate(arg if isinstance(arg, list) else [arg]):
                        if isinstance(v, str):
                            yield path + (key, op) + ((i,) if isinstance(arg, list) else ()), key, v
        elif isinstance(value, list):
            for i, v in enumerate(value):
                if isinstance(v, str):
                    yield path + (key, i), key, v
        elif isinstance(value, str):
            yield path + (key,), key, value
