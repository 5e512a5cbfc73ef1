"""`rules/model.yaml`: read it, check it, and apply it with nothing but its weights.

The file (written by `leadctl model fit`, edited and reviewed by people):

    version: 1
    intercept: -1.2                   # log-odds of winning before any feature
    features:
      - name: source                  # a fact (see facts.py)
        type: category
        values:
          Webinar: {weight: 0.8, won: 120, lost: 40}   # log-odds added; the training leads with it
        other: {weight: -0.1, won: 3, lost: 9}         # rare values pooled, and values never seen
        missing: {weight: -0.4, won: 10, lost: 80}
      - name: employees
        type: number
        bins:                          # [from, below); the first has no `from`, the last no `below`
          - {below: 50, weight: -0.3, won: 10, lost: 40}
          - {from: 50, weight: 0.4, won: 30, lost: 20}
        missing: {weight: 0.0, won: 0, lost: 0}
    after_contact: [attributes.rating]  # facts known only after a salesperson talked to the lead
    left_out: [{fact: email, reason: …}] # what the fit did not use, and why (information)
    training: {…}                         # window, counts, options (information)
    validation: {…}                       # held-out AUC, log loss, calibration, lift (information)

probability = 1 / (1 + e^-(intercept + the weight of each feature's value)). A feature
removed from the file no longer counts; a value removed counts as `other`.
"""
from __future__ import annotations

import math
import os
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import RuleProblem, RulesError

MODEL_FILE = "model.yaml"
MISSING = "(missing)"
OTHER = "(other)"
_INFO_KEYS = ("after_contact", "left_out", "training", "validation", "target")


def bin_label(edges: tuple[float, ...], i: int) -> str:
    """How bin `i` of `edges` reads: 'below 10', '10 to below 50', '50 and above'."""
    if not edges:
        return "any value"
    if i == 0:
        return f"below {_num(edges[0])}"
    if i == len(edges):
        return f"{_num(edges[-1])} and above"
    return f"{_num(edges[i - 1])} to below {_num(edges[i])}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _as_number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return None if isinstance(value, float) and math.isnan(value) else float(value)
    try:
        x = float(str(value).strip().replace(",", ""))
    except ValueError:
        return None
    return None if math.isnan(x) else x


def category_text(value: Any) -> str | None:
    """A value as a category (None when empty): booleans read true/false."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    return text or None


@dataclass
class Feature:
    """One fact and the weight of each of its values (categories) or bins (numbers)."""

    name: str
    type: str                                  # "category" | "number"
    weights: dict[str, float]                  # key → log-odds; keys: values/OTHER/MISSING or "0", "1", … for bins
    support: dict[str, tuple[int, int]] = field(default_factory=dict)   # key → (won, lost)
    edges: tuple[float, ...] = ()              # numbers: the bins' boundaries

    def key(self, value: Any) -> str:
        """Which of the feature's weights a value takes."""
        if self.type == "number":
            x = _as_number(value)
            if x is None:
                return MISSING
            return str(bisect_right(self.edges, x))
        text = category_text(value)
        if text is None:
            return MISSING
        return text if text in self.weights and text not in (OTHER, MISSING) else OTHER

    def label(self, key: str) -> str:
        """A key as people read it."""
        if self.type == "number" and key != MISSING:
            return bin_label(self.edges, int(key))
        return key

    def weight(self, value: Any) -> float:
        return self.weights.get(self.key(value), 0.0)

    def weights_of(self, values: list[Any]) -> list[float]:
        """`weight(v)` for each value, with fast paths for text categories and plain numbers (same results)."""
        missing = self.weights.get(MISSING, 0.0)
        slow = self.weight
        if self.type == "number":
            edges = self.edges
            by_bin = [self.weights.get(str(i), 0.0) for i in range(len(edges) + 1)]
            return [missing if v is None else by_bin[bisect_right(edges, v)]
                    if v.__class__ is int or (v.__class__ is float and v == v) else slow(v) for v in values]
        memo: dict[str, float] = {}

        def first(v: Any) -> float:
            w = slow(v)
            if v.__class__ is str:
                memo[v] = w
            return w
        return [missing if v is None else memo[v] if v.__class__ is str and v in memo else first(v) for v in values]


@dataclass
class Model:
    """A fitted (or hand-edited) model: intercept and features; the rest is information."""

    intercept: float
    features: list[Feature]
    info: dict[str, Any] = field(default_factory=dict)
    path: str = MODEL_FILE

    @property
    def facts(self) -> list[str]:
        return [f.name for f in self.features]

    def logit(self, facts: dict[str, Any]) -> float:
        """Log-odds of winning for a lead's facts ({fact name: value})."""
        z = self.intercept
        for f in self.features:
            z += f.weight(facts.get(f.name))
        return z

    def probability(self, facts: dict[str, Any]) -> float:
        return sigmoid(self.logit(facts))

    def logits(self, leads: list[dict], ref: datetime) -> list[float]:
        """`logit` of every lead of a chunk (lead dicts as `process` reads them), feature by feature."""
        from .facts import column

        z = [self.intercept] * len(leads)
        for f in self.features:
            z = [a + b for a, b in zip(z, f.weights_of(column(leads, f.name, ref)))]
        return z

    def factors(self, facts: dict[str, Any]) -> list[dict]:
        """Each feature's part in the lead's log-odds, largest effect first."""
        out: list[dict[str, Any]] = []
        for f in self.features:
            value = facts.get(f.name)
            key = f.key(value)
            won, lost = f.support.get(key, (None, None))
            out.append({"fact": f.name, "value": value, "as": f.label(key), "weight": f.weights.get(key, 0.0),
                        "won": won, "lost": lost})
        out.sort(key=lambda r: -abs(r["weight"]))
        return out

    def to_dict(self) -> dict:
        """The YAML document (the key order people read)."""
        doc: dict[str, Any] = {"version": 1, "intercept": self.intercept, "features": []}
        for f in self.features:
            def part(key: str, f: Feature = f) -> dict:
                won, lost = f.support.get(key, (0, 0))
                return {"weight": f.weights.get(key, 0.0), "won": won, "lost": lost}
            item: dict[str, Any] = {"name": f.name, "type": f.type}
            if f.type == "number":
                bins = []
                for i in range(len(f.edges) + 1):
                    b: dict[str, Any] = {}
                    if i > 0:
                        b["from"] = f.edges[i - 1]
                    if i < len(f.edges):
                        b["below"] = f.edges[i]
                    bins.append({**b, **part(str(i))})
                item["bins"] = bins
            else:
                item["values"] = {k: part(k) for k in f.weights if k not in (OTHER, MISSING)}
                item["other"] = part(OTHER)
            item["missing"] = part(MISSING)
            doc["features"].append(item)
        for k in _INFO_KEYS:
            if k in self.info:
                doc[k] = self.info[k]
        return doc


def sigmoid(z: float) -> float:
    """1 / (1 + e^-z), without overflow at either end."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def model_path(directory: str | os.PathLike) -> str:
    return os.path.join(os.fspath(directory), MODEL_FILE)


def load_model(directory: str | os.PathLike) -> Model | None:
    """The model of a rules folder (None when it has no model.yaml); RulesError naming every mistake."""
    path = model_path(directory)
    if not os.path.exists(path):
        return None
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RulesError([RuleProblem(path, mark.line + 1 if mark else None,
                                      f"not valid YAML: {getattr(exc, 'problem', None) or exc}")]) from None
    return parse_model(data, path)


def parse_model(data: Any, path: str = MODEL_FILE) -> Model:
    """Check a model document and build the Model; RulesError listing every problem."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise RulesError([RuleProblem(path, None, "must be a mapping with intercept and features")])
    unknown = sorted(set(data) - {"version", "intercept", "features", *_INFO_KEYS})
    if unknown:
        problems.append(f"unknown key {unknown[0]!r} (expected version, intercept, features, after_contact, "
                        "left_out, training, validation)")
    if data.get("version", 1) != 1:
        problems.append(f"version must be 1, not {data.get('version')!r}")
    intercept = _weight(data.get("intercept", 0.0), "intercept", problems)
    raw = data.get("features") or []
    if not isinstance(raw, list):
        problems.append("features must be a list")
        raw = []
    after = data.get("after_contact") or []
    if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
        problems.append("after_contact must be a list of fact names")
        after = []
    features: list[Feature] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"features[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
            problems.append(f"{where} needs a name (the fact it reads, e.g. source or attributes.product)")
            continue
        name = item["name"].strip()
        where = f"features[{i}] ({name})"
        if name in seen:
            problems.append(f"{where}: the feature appears twice")
        seen.add(name)
        if name in after:
            problems.append(f"{where}: declared after_contact (known only after a salesperson talked to the "
                            "lead); remove the feature or the declaration")
        feat = _feature(item, name, where, problems)
        if feat is not None:
            features.append(feat)
    if problems:
        raise RulesError([RuleProblem(path, None, p) for p in problems])
    info = {k: data[k] for k in _INFO_KEYS if k in data}
    return Model(intercept=intercept, features=features, info=info, path=path)


def _weight(value: Any, where: str, problems: list[str]) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        problems.append(f"{where}: a weight must be a finite number, not {value!r}")
        return 0.0
    return float(value)


def _part(part: Any, where: str, problems: list[str]) -> tuple[float, tuple[int, int]]:
    if part is None:
        return 0.0, (0, 0)
    if isinstance(part, (int, float)) and not isinstance(part, bool):
        return _weight(part, where, problems), (0, 0)
    if not isinstance(part, dict):
        problems.append(f"{where}: expected {{weight: …, won: …, lost: …}} or a number")
        return 0.0, (0, 0)
    extra = sorted(set(part) - {"weight", "won", "lost", "from", "below"})
    if extra:
        problems.append(f"{where}: unknown key {extra[0]!r} (expected weight, won, lost)")
    won, lost = part.get("won", 0), part.get("lost", 0)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (won, lost)):
        problems.append(f"{where}: won and lost are counts of leads (whole numbers, 0 or more)")
        won, lost = 0, 0
    return _weight(part.get("weight", 0.0), where, problems), (won, lost)


def _feature(item: dict, name: str, where: str, problems: list[str]) -> Feature | None:
    kind = item.get("type")
    weights: dict[str, float] = {}
    support: dict[str, tuple[int, int]] = {}
    if kind == "category":
        values = item.get("values") or {}
        if not isinstance(values, dict):
            problems.append(f"{where}: values must map each value to its weight")
            return None
        for value, part in values.items():
            key = category_text(value)
            if key is None or key in (OTHER, MISSING):
                problems.append(f"{where}: value {value!r} cannot be a category (use other/missing)")
                continue
            weights[key], support[key] = _part(part, f"{where} value {key!r}", problems)
        weights[OTHER], support[OTHER] = _part(item.get("other"), f"{where} other", problems)
        edges: tuple[float, ...] = ()
    elif kind == "number":
        bins = item.get("bins")
        if not isinstance(bins, list) or not bins:
            problems.append(f"{where}: a number feature needs bins (a list of {{from, below, weight}})")
            return None
        cuts: list[float] = []
        for j, b in enumerate(bins):
            bw = f"{where} bins[{j}]"
            weights[str(j)], support[str(j)] = _part(b, bw, problems)
            b = b if isinstance(b, dict) else {}
            lo, hi = b.get("from"), b.get("below")
            if (j == 0) != (lo is None) or (j == len(bins) - 1) != (hi is None):
                problems.append(f"{bw}: only the first bin has no `from` and only the last no `below`")
            if hi is not None:
                cuts.append(_weight(hi, f"{bw} below", problems))
            if j > 0 and lo is not None and cuts and len(cuts) >= j and lo != cuts[j - 1]:
                problems.append(f"{bw}: `from` must equal the previous bin's `below` ({_num(cuts[j - 1])})")
        if any(b <= a for a, b in zip(cuts, cuts[1:])):
            problems.append(f"{where}: bins must be in increasing order")
        edges = tuple(cuts)
    else:
        problems.append(f"{where}: type must be category or number, not {kind!r}")
        return None
    weights[MISSING], support[MISSING] = _part(item.get("missing"), f"{where} missing", problems)
    extra = sorted(set(item) - {"name", "type", "values", "other", "bins", "missing"})
    if extra:
        problems.append(f"{where}: unknown key {extra[0]!r}")
    return Feature(name=name, type=kind, weights=weights, support=support, edges=edges)


def dump_model(model: Model, path: str) -> None:
    """Write the model file (YAML, keys in reading order)."""
    import yaml

    text = yaml.safe_dump(model.to_dict(), sort_keys=False, allow_unicode=True, width=120)
    head = ("# The predictive model: `leadctl model fit` wrote it; people may edit it (drop a feature,\n"
            "# cap a weight). Weights are log-odds of winning; won/lost count the training leads.\n")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(head + text)


def model_problems(directory: str | os.PathLike) -> list[RuleProblem]:
    """The mistakes of a rules folder's model.yaml (none when it is absent or right), for `rules check`."""
    try:
        load_model(directory)
    except RulesError as exc:
        return list(exc.problems)
    except OSError as exc:
        return [RuleProblem(model_path(directory), None, f"cannot be read: {exc.strerror or exc}")]
    return []
