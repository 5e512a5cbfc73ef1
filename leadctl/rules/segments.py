"""`segment: NAME` in any rule's condition: the segment's own `when` (rules/segments.yaml), put in its place.

Rules read a segment as its condition, evaluated with the lead in hand — never the
membership the last `process` stored — so scoring, routing and cadences see the same
run's values. A list of names means any of them; `not: {segment: x}` excludes one.

    specs = segment_specs(folder)                    # name (case-folded) → its `when`
    spec, problems = expand({"segment": "enterprise", "stage": "mql"}, specs)
"""
from __future__ import annotations

import os
from typing import Any

from leadctl.words import did_you_mean

_COMBINATORS = ("all", "any", "not")


def segment_specs(directory: str) -> dict[str, tuple[str, Any]]:
    """Each segment's `when` as written, by case-folded name → (name, spec); {} without a readable file.

    The file's own mistakes are reported when it is loaded as a rule file.
    """
    import yaml

    for fname in ("segments.yaml", "segments.yml"):
        path = os.path.join(directory, fname)
        if os.path.exists(path):
            try:
                with open(path, encoding="utf-8") as fh:
                    data = yaml.safe_load(fh)
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                return {}
            out: dict[str, tuple[str, Any]] = {}
            for item in (data or {}).get("segments") or () if isinstance(data, dict) else ():
                if isinstance(item, dict) and isinstance(item.get("name"), str) and "when" in item:
                    out.setdefault(item["name"].strip().casefold(), (item["name"].strip(), item["when"]))
            return out
    return {}


def mentions_segment(spec: Any) -> bool:
    """Whether a condition names `segment` anywhere (so only those are rewritten)."""
    if isinstance(spec, dict):
        return "segment" in spec or any(mentions_segment(spec[k]) for k in _COMBINATORS if k in spec)
    if isinstance(spec, list):
        return any(mentions_segment(s) for s in spec)
    return False


def expand(spec: Any, specs: dict[str, tuple[str, Any]], path: tuple = (),
           seen: tuple[str, ...] = ()) -> tuple[Any, list[tuple[tuple, str]]]:
    """`spec` with every `segment:` replaced by the named segments' conditions; (spec, [(path, problem)])."""
    problems: list[tuple[tuple, str]] = []
    if isinstance(spec, list):
        out = []
        for i, s in enumerate(spec):
            e, p = expand(s, specs, path + (i,), seen)
            out.append(e)
            problems += p
        return out, problems
    if not isinstance(spec, dict):
        return spec, problems
    rest: dict[str, Any] = {}
    for key, value in spec.items():
        if key in _COMBINATORS:
            rest[key], p = expand(value, specs, path + (key,), seen)
            problems += p
        elif key != "segment":
            rest[key] = value
    if "segment" not in spec:
        return rest, problems
    value = spec["segment"]
    names = [value] if isinstance(value, str) else value if isinstance(value, list) else None
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        return rest, problems + [(path + ("segment",), "segment takes a segment's name or a list of names")]
    parts = []
    for name in names:
        found = specs.get(name.strip().casefold())
        if found is None:
            known = [n for n, _ in specs.values()]
            problems.append((path + ("segment",), f"unknown segment '{name}'{did_you_mean(name, known)}"
                             + ("" if known else " (no segments in segments.yaml)")))
            continue
        canonical, when = found
        if canonical in seen:
            problems.append((path + ("segment",), f"segment '{canonical}' refers to itself"))
            continue
        inner, p = expand(when, specs, path + ("segment",), seen + (canonical,))
        problems += [(path + ("segment",), msg) for _, msg in p]
        if inner is not None:
            parts.append(inner)
    if not parts:  # every name was a mistake, reported; nothing is left to test
        return (rest or None), problems
    either = parts[0] if len(parts) == 1 else {"any": parts}
    return ({"all": [rest, either]} if rest else either), problems
