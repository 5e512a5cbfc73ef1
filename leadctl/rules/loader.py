"""Load a rules folder into one typed, validated RuleSet — or report every problem at once.

    rules = load_rules("rules")        # raises RulesError listing every mistake in every file
    rules.scoring.fit.rules[0].when(lead, now)
    print(rules.summary())

A missing file means "no rules of that kind" (stages fall back to the default funnel).
`scoring.yml` is read when `scoring.yaml` is absent.
"""
from __future__ import annotations

import os
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from leadctl.errors import RuleProblem, RulesError
from leadctl.rules.conditions import Condition, compile_condition
from leadctl.rules.schema import (
    FILE_MODELS,
    FollowupsConfig,
    QualificationConfig,
    RoutingConfig,
    ScoringConfig,
    SegmentsConfig,
    SourcesConfig,
    StagesConfig,
)
from leadctl.rules.segments import mentions_segment
from leadctl.words import did_you_mean

# Where `when:`-style conditions sit in each file: (list key path, condition keys). The one
# list of them: the loader compiles them, `lead_conditions` hands them to whoever plans reads.
_CONDITION_SITES: dict[str, tuple[tuple[tuple, tuple[str, ...]], ...]] = {
    "scoring.yaml": ((("fit", "rules"), ("when",)), (("engagement", "rules"), ("when",))),
    "qualification.yaml": ((("temperature",), ("when",)), (("stages",), ("when",))),
    "routing.yaml": ((("rules",), ("when",)), (("sla",), ("when",))),
    "followups.yaml": ((("cadences",), ("when", "stop_when")), (("inactivity",), ("when",))),
    "segments.yaml": ((("segments",), ("when",)),),
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
    ("segments.yaml", (("segments",),), "segment"),
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
    segments: SegmentsConfig = field(default_factory=SegmentsConfig)

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


def lead_conditions(rules: RuleSet) -> list[Condition]:
    """Every compiled lead-mode condition of the rule set (an activity rule's `when` tests activity records)."""
    out: list[Condition] = []
    for name, sites in _CONDITION_SITES.items():
        part = getattr(rules, name[:-len(".yaml")])
        for path, keys in sites:
            items: Any = part
            for key in path:
                items = getattr(items, key)
            for item in items:
                if getattr(item, "activity", None):
                    continue
                out.extend(c for c in (getattr(item, k, None) for k in keys) if isinstance(c, Condition))
    return out


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class _FileState:
    def __init__(self, name: str, display: str):
        self.name = name
        self.display = display
        self.data: Any = None
        from leadctl.rules.yamlload import LineMap  # YAML is read only when the cache misses

        self.lines = LineMap()
        self.model: Any = None
        self.conditions: list[tuple[tuple, Any, str | None]] = []  # (path, spec, label)


def load_rules(directory: str | os.PathLike) -> RuleSet:
    """Read, validate and compile the rules folder; raise RulesError with every problem.

    A folder read before comes from the parsed-rules cache (`rules.cache`), keyed by the
    rule files' contents; any change to them reads the folder again.
    """
    from leadctl.rules import cache

    key = cache.folder_key(directory)
    if key is not None:
        hit = cache.load_full(key)
        if isinstance(hit, RuleSet):
            return hit
    modes: dict[int, str] = {}
    rules = _load_rules(directory, modes)
    if key is not None:
        cache.save(key, rules, modes)
    return rules


def _load_rules(directory: str | os.PathLike, modes: dict[int, str]) -> RuleSet:
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
            hint = did_you_mean(base, FILE_MODELS, cutoff=0.8)
            if hint:
                problems.append(RuleProblem(os.path.join(shown, stray), None, f"unknown rule file '{stray}'{hint}"))

    for name, model in FILE_MODELS.items():
        fname = name if name in present else name[:-5] + ".yml" if name[:-5] + ".yml" in present else None
        st = _FileState(name, os.path.join(shown, fname or name))
        states[name] = st
        if fname is None:
            st.model = model()
            continue
        loaded.append(fname)
        st.model = _load_file(st, os.path.join(directory, fname), model, problems, modes)

    # References between files are checked even when a file has other mistakes, against the
    # names that can be read, so one run reports everything.
    _cross_checks(states, problems)
    from leadctl.model.model import model_problems  # model.yaml: the predictive model's own checks

    problems.extend(model_problems(directory))

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
        segments=states["segments.yaml"].model,
    )


def check_rules(directory: str | os.PathLike) -> RuleSet:
    """`load_rules` for `leadctl rules check`: also a folder without any rule file is an error, and
    enrichment.yaml (read by `leads enrich` only, so no other command loads it) is checked with its tables."""
    from ..enrichment import load_lookups

    shown = os.fspath(directory)
    if os.path.isdir(directory):
        names = [n for n in os.listdir(directory) if n.endswith((".yaml", ".yml"))]
        if not names:
            raise RulesError([RuleProblem(
                shown, None, "no rule files in this folder (expected " + ", ".join(FILE_MODELS) + ")",
                hint="run `leadctl init` to copy the default rules, or pass --rules with the rules folder")])
    problems: list[RuleProblem] = []
    try:
        rules = load_rules(directory)
    except RulesError as exc:
        problems.extend(exc.problems)
    if os.path.isdir(directory):
        try:
            load_lookups(shown)
        except RulesError as exc:
            problems.extend(exc.problems)
    if problems:
        raise RulesError(problems)
    return rules


def _ordered(problems: list[RuleProblem], file_order: list[str]) -> list[RuleProblem]:
    rank = {f: i for i, f in enumerate(file_order)}
    return sorted(problems, key=lambda p: (rank.get(p.file, -1), p.line or 0))


def _load_file(st: _FileState, path: str, model: type[BaseModel], problems: list[RuleProblem],
               modes: dict[int, str]):
    from leadctl.rules.yamlload import YamlProblems, load_yaml

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
    _compile_conditions(st, problems, modes)
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


def _compile_conditions(st: _FileState, problems: list[RuleProblem], modes: dict[int, str]) -> None:
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
                if mentions_segment(spec):  # `segment: NAME` reads as that segment's condition
                    spec = _with_segments(st, spec, base, label, problems)
                lines = st.lines
                item[key] = compile_condition(spec, problems=problems, file=st.display, label=label, mode=mode,
                                              where=lambda p, base=base, lines=lines: lines.line(base + tuple(p)))
                modes[id(item[key])] = mode  # how to compile it again from the cache
                if mode == "lead":
                    st.conditions.append((base, spec, label))


def _with_segments(st: _FileState, spec: Any, base: tuple, label: str, problems: list[RuleProblem]) -> Any:
    from leadctl.rules.segments import expand, segment_specs

    spec, found = expand(spec, segment_specs(os.path.dirname(st.display)))
    for path, message in found:
        problems.append(RuleProblem(st.display, st.lines.line(base + path), f"rule '{label}': {message}"))
    return spec


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
class _Names:
    """The names one kind of reference may use (stages, owners …): canonical names and aliases."""

    def __init__(self, noun: str, names: list[str], aliases: dict[str, str] | None = None,
                 also: tuple[str, ...] = ()):
        self.noun = noun
        self.names = list(dict.fromkeys(names))
        self._lookup = {_norm(n): n for n in self.names}
        for alias, name in (aliases or {}).items():
            self._lookup.setdefault(_norm(alias), name)
        self._also = {_norm(a) for a in also}  # accepted but not suggested (the fallback queue)

    def known(self, value: str) -> bool:
        return _norm(value) in self._lookup or _norm(value) in self._also

    def canonical(self, value: str) -> str | None:
        return self._lookup.get(_norm(value))

    def hint(self) -> str:
        shown = self.names[:20]
        return f"known {self.noun}s: " + ", ".join(shown) + (" …" if len(self.names) > 20 else "")


def _norm(value: Any) -> str:
    return " ".join(str(value).split()).casefold()


def _items(data: Any, key: str) -> list[tuple[int, dict]]:
    items = data.get(key) if isinstance(data, dict) else None
    return [(i, it) for i, it in enumerate(items) if isinstance(it, dict)] if isinstance(items, list) else []


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _namespaces(states: dict[str, _FileState]) -> dict[str, _Names | None]:
    """What each kind of reference may name, read from the files as far as they can be read.

    None means "not known" (the defining file could not be read): references of that kind
    are not checked rather than reported against a half-read list.
    """
    out: dict[str, _Names | None] = {}

    st = states["stages.yaml"]
    model = st.model
    if isinstance(model, StagesConfig):
        out["stage"] = _Names("stage", list(model.names), {a: s.name for s in model.stages for a in s.aliases})
    elif isinstance(st.data, dict) and "stages" not in st.data:
        default = StagesConfig()
        out["stage"] = _Names("stage", list(default.names))
    elif isinstance(st.data, dict) and isinstance(st.data.get("stages"), list):
        names, aliases = _named(st.data, "stages")
        out["stage"] = _Names("stage", names, aliases) if names else None
    else:
        out["stage"] = None

    qual = states["qualification.yaml"]
    temps = [t for t in (_text(it.get("name")) for _, it in _items(qual.data, "temperature")) if t]
    out["temperature"] = _Names("temperature", temps) if temps else None

    routing = states["routing.yaml"]
    readable = not (routing.data is None and routing.model is None)  # None: routing.yaml cannot be read
    owners = _items(routing.data, "owners")
    names = [n for n in (_text(o.get("name")) for _, o in owners) if n]
    emails = {e: n for e, n in ((_text(o.get("email")), _text(o.get("name"))) for _, o in owners) if e and n}
    teams = [t for t in (_text(o.get("team")) for _, o in owners) if t]
    fallback = routing.data.get("fallback") if isinstance(routing.data, dict) else None
    queue = _text(fallback.get("owner")) if isinstance(fallback, dict) else None
    # Conditions on owner or team are checked against a roster only when routing.yaml has one
    # (owners can also come from imports); an assignment always needs a listed owner or team.
    out["owner"] = _Names("owner", names, emails, also=(queue,) if queue else ()) if names else None
    out["team"] = _Names("team", teams) if names else None
    out["assign_owner"] = _Names("owner", names, emails) if readable else None
    out["assign_team"] = _Names("team", teams) if readable else None

    names, aliases = _named(states["sources.yaml"].data, "sources")
    out["source"] = _Names("source", names, aliases) if names else None
    return out


def _named(data: Any, key: str) -> tuple[list[str], dict[str, str]]:
    """The names of the items under `key`, and their aliases (alias → name)."""
    names: list[str] = []
    aliases: dict[str, str] = {}
    for _, item in _items(data, key):
        name = _text(item.get("name"))
        if not name:
            continue
        names.append(name)
        listed = item.get("aliases")
        for alias in listed if isinstance(listed, list) else []:
            if _text(alias):
                aliases[alias] = name
    return names, aliases


def _cross_checks(states: dict[str, _FileState], problems: list[RuleProblem]) -> None:
    """Names used in one file that another file defines: stages, temperatures, owners, teams, sources."""
    ns = _namespaces(states)

    def unknown(st: _FileState, path: tuple, who: str, names: _Names, value: str, extra: str = "") -> None:
        problems.append(RuleProblem(st.display, st.lines.line(path),
                                    f"{who}: unknown {names.noun} '{value}'{did_you_mean(value, names.names)}{extra}",
                                    hint=names.hint() if names.names else None))

    # qualification.yaml: the stage each rule moves a lead to.
    qual_st = states["qualification.yaml"]
    stages = ns["stage"]
    for i, item in _items(qual_st.data, "stages"):
        to = item.get("to")
        if stages is not None and isinstance(to, str) and not stages.known(to):
            unknown(qual_st, ("stages", i, "to"), f"rule '{_text(item.get('name')) or f'to {to}'}'", stages, to)
    # A lost reason (on a rule to a lost stage) is one of stages.yaml's lost_reasons.
    stages_model = states["stages.yaml"].model
    catalogue = stages_model if isinstance(stages_model, StagesConfig) else StagesConfig()
    for i, item in _items(qual_st.data, "stages"):
        reason, to = _text(item.get("lost_reason")), _text(item.get("to"))
        if not reason:
            continue
        who = f"rule '{_text(item.get('name')) or f'to {to}'}'"
        kind = next((s.kind for s in catalogue.stages if s.name == catalogue.resolve(to)), None) if to else None
        if catalogue.lost_reason(reason) is None:
            catalogued = [r.name for r in catalogue.lost_reasons]
            problems.append(RuleProblem(qual_st.display, qual_st.lines.line(("stages", i, "lost_reason")),
                                        f"{who}: unknown lost reason '{reason}'{did_you_mean(reason, catalogued)}",
                                        hint="lost reasons (stages.yaml lost_reasons): " + ", ".join(catalogued)))
        elif kind != "lost" and catalogue.resolve(to) is not None:
            problems.append(RuleProblem(qual_st.display, qual_st.lines.line(("stages", i, "lost_reason")),
                                        f"{who}: lost_reason is for rules to a lost stage, and '{to}' is not one",
                                        hint="lost stages: " + ", ".join(catalogue.lost)))
    qual: QualificationConfig | None = qual_st.model
    if qual is not None and stages is not None:
        fixed = tuple(r if (stages.canonical(r.to) or r.to) == r.to
                      else r.model_copy(update={"to": stages.canonical(r.to)}) for r in qual.stages)
        qual_st.model = qual.model_copy(update={"stages": fixed})

    # routing.yaml: who each rule and the fallback assign to.
    routing_st = states["routing.yaml"]
    owners, teams = ns["assign_owner"], ns["assign_team"]

    def check_assign(assign: Any, path: tuple, who: str, *, queue_ok: bool = False) -> None:
        if not isinstance(assign, dict):
            return
        owner, team = _text(assign.get("owner")), _text(assign.get("team"))
        # The fallback may name an owner not listed under owners: a shared queue (docs/rules.md:
        # `fallback: {owner: queue}`). Anywhere else an unknown owner is a typo.
        if owner and not queue_ok and owners is not None and not owners.known(owner):
            unknown(routing_st, path + ("owner",), who, owners, owner)
        if team and teams is not None and not teams.known(team):
            unknown(routing_st, path + ("team",), who, teams, team, "" if teams.names else " (no owner has a team)")

    for i, item in _items(routing_st.data, "rules"):
        name = _text(item.get("name"))
        who = f"rule '{name}'" if name else f"rule #{i + 1} of rules"
        check_assign(item.get("assign"), ("rules", i, "assign"), who)
    if isinstance(routing_st.data, dict):
        check_assign(routing_st.data.get("fallback"), ("fallback",), "fallback", queue_ok=True)

    # Names written in conditions must exist, or the rule silently never fires.
    for st in states.values():
        for base, spec, label in st.conditions:
            for path, fieldname, value in _field_values(spec, ()):
                names = ns.get(fieldname) if fieldname in ("stage", "temperature", "owner", "team", "source") else None
                if names is None:
                    continue
                if not names.known(value):
                    unknown(st, base + path, f"rule '{label}'", names, value)
                elif fieldname == "source" and names.canonical(value) and _norm(names.canonical(value)) != _norm(value):
                    # Imports store a source under its name, so a condition on an alias never holds.
                    problems.append(RuleProblem(
                        st.display, st.lines.line(base + path),
                        f"rule '{label}': source '{value}' is an alias of '{names.canonical(value)}' "
                        f"(leads are stored under the name; write '{names.canonical(value)}')",
                        hint="sources.yaml turns aliases into the name on import"))


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
