"""Safe YAML loading that remembers the line of every mapping key and sequence item.

    data, lines = load_yaml("rules/scoring.yaml")
    lines.line(("fit", "rules", 0, "when"))   # -> 7 (1-based)

The loader is `yaml.SafeLoader` with three deliberate differences, because rule
files are written by people and a silent reinterpretation is worse than an error:

* aliases (`*name`) are refused — they are the only way to build a "billion
  laughs" bomb and rule files never need them;
* only `true`/`false` are booleans (YAML 1.2): `country: NO` stays the text "NO",
  and `yes`/`no`/`on`/`off` are text (conditions still read them as booleans
  when compared with a boolean field);
* no base-60 numbers and no leading-zero octals: `start: 9:00` stays "9:00" and
  `zip: 02134` stays "02134".

Duplicate keys in one mapping are errors too (PyYAML keeps the last one silently).
"""
from __future__ import annotations

import os
import re
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from leadctl.errors import RuleProblem

MAX_FILE_BYTES = 2_000_000   # a rule file is a few kilobytes; refuse anything absurd
MAX_NODES = 200_000

Path = tuple  # tuple[str | int, ...]


class LineMap:
    """Path tuple → 1-based line of the key (mapping) or item (sequence) it names."""

    __slots__ = ("_lines",)

    def __init__(self, lines: dict[tuple, int] | None = None):
        self._lines = lines if lines is not None else {}

    def line(self, path: tuple) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while True:
            found = self._lines.get(path)
            if found is not None:
                return found
            if not path:
                return None
            path = path[:-1]

    def exact(self, path: tuple) -> int | None:
        return self._lines.get(tuple(path))

    def __contains__(self, path: tuple) -> bool:
        return tuple(path) in self._lines

    def __len__(self) -> int:
        return len(self._lines)


class _RuleLoader(yaml.SafeLoader):
    """SafeLoader without aliases, YAML 1.1 booleans, base-60 or octal numbers."""

    def compose_node(self, parent, index):  # noqa: D401 - PyYAML hook
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise _Refused("YAML aliases are not allowed in rule files", event.start_mark.line + 1)
        return super().compose_node(parent, index)


class _Refused(Exception):
    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.message = message
        self.line = line


# Rebuild the implicit resolvers: start from SafeLoader's, drop bool/int/float, add stricter ones.
_RuleLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_RuleLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_RuleLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+)$"), list("-+0123456789"))
_RuleLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:0|[1-9][0-9_]*)?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                |[-+]?(?:0|[1-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+
                |[-+]?(?:0|[1-9][0-9_]*)\.[0-9_]*
                |[-+]?\.(?:inf|Inf|INF)
                |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def _problem(file: str, line: int | None, message: str) -> RuleProblem:
    return RuleProblem(file, line, message)


def parse_yaml(text: str, file: str = "<rules>") -> tuple[Any, LineMap]:
    """Parse YAML text; raise `_YamlProblems` (a list of RuleProblem) on failure."""
    loader = _RuleLoader(text)
    lines: dict[tuple, int] = {}
    problems: list[RuleProblem] = []
    count = [0]
    try:
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
        if node is None:
            return None, LineMap(lines)

        def build(node, path):
            count[0] += 1
            if count[0] > MAX_NODES:
                raise _Refused(f"file is too large (more than {MAX_NODES} YAML nodes)", node.start_mark.line + 1)
            if isinstance(node, MappingNode):
                out: dict = {}
                for key_node, value_node in node.value:
                    if not isinstance(key_node, ScalarNode):
                        problems.append(_problem(file, key_node.start_mark.line + 1,
                                                 "a mapping key must be a plain value"))
                        continue
                    key = loader.construct_object(key_node, deep=True)
                    if isinstance(key, (list, dict)):  # pragma: no cover - scalars only
                        continue
                    if key in out:
                        problems.append(_problem(
                            file, key_node.start_mark.line + 1,
                            f"duplicate key '{key}' (also on line {lines.get(path + (key,), '?')})"))
                        continue
                    lines[path + (key,)] = key_node.start_mark.line + 1
                    out[key] = build(value_node, path + (key,))
                return out
            if isinstance(node, SequenceNode):
                items = []
                for i, item in enumerate(node.value):
                    lines[path + (i,)] = item.start_mark.line + 1
                    items.append(build(item, path + (i,)))
                return items
            return loader.construct_object(node, deep=True)

        lines[()] = node.start_mark.line + 1
        data = build(node, ())
    except _Refused as exc:
        raise YamlProblems([_problem(file, exc.line, exc.message)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem and exc.problem.startswith("but"):
            what = f"{exc.context}, {exc.problem}"
        if "block" in what or "mapping values are not allowed" in what:
            what += " (check the indentation)"
        raise YamlProblems([_problem(file, line, f"YAML syntax error: {what}")]) from None
    except yaml.YAMLError as exc:
        raise YamlProblems([_problem(file, None, f"YAML error: {exc}")]) from None
    except RecursionError:
        raise YamlProblems([_problem(file, None, "YAML is nested too deeply")]) from None
    if problems:
        raise YamlProblems(problems)
    return data, LineMap(lines)


class YamlProblems(Exception):
    """The file could not be read as YAML; `problems` says where and why."""

    def __init__(self, problems: list[RuleProblem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def load_yaml(path: str | os.PathLike, *, display: str | None = None) -> tuple[Any, LineMap]:
    """Read a rule file safely; returns (plain data, LineMap).

    Raises `YamlProblems` whose problems name `display` (default: the path as given).
    """
    file = display if display is not None else os.fspath(path)
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise YamlProblems([_problem(file, None, f"file is too large ({size} bytes) for a rule file")])
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise YamlProblems([_problem(file, None, f"cannot read file: {exc.strerror or exc}")]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlProblems([_problem(file, line, "file is not UTF-8 text")]) from None
    return parse_yaml(text, file)
