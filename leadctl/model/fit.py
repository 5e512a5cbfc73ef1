"""`leadctl model fit`: learn a logistic regression from the leads whose outcome is known.

    result = fit_model(store, rules, now=now, options=FitOptions(holdout=0.2))
    dump_model(result.model, "rules/model.yaml")

Examples are leads that reached a won stage (won) or sit in a lost stage (lost); open
leads are left out, or counted as not won once `open_after_days` old. Each example's
facts are measured at its outcome date (the time it entered its final stage): activity
counts and recencies use only the activities dated before it. Categories are one-hot
encoded with values seen on fewer than `rare` training leads pooled as `(other)`;
numbers fall in quantile bins; every feature also has a `(missing)` weight.

The most recent `holdout` share of examples by creation date is held out; the model
written is the one fitted on the rest, so the validation figures describe exactly it.
scikit-learn (the `leadctl[model]` extra) is needed here only: applying the file is not.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from ..errors import LeadctlError, UsageError
from ..fields import BY_NAME, CONDITION, DAYS_SINCE
from ..words import activity_key
from . import metrics
from .facts import ACTIVITY_PREFIX, ATTRIBUTE_PREFIX, FLAG_PREFIX, days_between, has_flag
from .model import MISSING, OTHER, Feature, Model, _as_number, category_text

if TYPE_CHECKING:
    from ..rules.loader import RuleSet

# Lead fields the model never reads, and why (shown in model.yaml's left_out).
_IDENTIFIES = "identifies one person or account, not a kind of lead"
_BY_RULES = "set by the hand-written rules (compared with the model in `report scoring --model`)"
REASONS = {
    **{n: _IDENTIFIES for n in ("email", "phone", "first_name", "last_name", "external_id", "linkedin", "city",
                                "company", "email_domain")},
    "stage": "the outcome itself",
    "lost_reason": "known only once a lead is lost",
    **{n: _BY_RULES for n in ("score", "fit_score", "engagement_score", "grade", "temperature")},
    "predicted": "the model's own output",
    "flags": "read flag by flag, as flags.<flag> (true or false)",
    "days_since_created": "a lead's age: measured at the outcome for closed leads and today for open ones",
    "days_since_activity": "the latest activity, often dated after the outcome; activity.<type>.days_since "
                           "counts only activities before it",
    "days_since_contacted": "the latest contact, often dated after the outcome; activity.<type>.days_since "
                            "counts only activities before it",
}
ATTRIBUTE_MIN_SHARE = 0.01       # a custom field present on fewer examples is left out
AFTER_OUTCOME_SHARE = 0.95       # an activity type dated after the outcome this often is refused
SINGLE_FACT_AUC = 0.95           # one fact alone separating this well is suspicious


class ModelError(LeadctlError):
    """A model cannot be fitted from this store (too few outcomes, no usable facts)."""


@dataclass
class FitOptions:
    holdout: float = 0.2                    # the most recent share of examples held out
    open_after_days: int | None = None      # open leads this old count as not won (None: left out)
    min_each: int = 50                      # won and lost examples needed, each
    rare: int = 20                          # category values on fewer training leads are pooled
    bins: int = 5                           # quantile bins per number
    c: float = 1.0                          # inverse regularisation strength (scikit-learn's C)
    after_contact: tuple[str, ...] = ()     # facts known only after contact: refused
    exclude: tuple[str, ...] = ()           # facts left out by choice

    def check(self) -> None:
        if not 0 < self.holdout < 1:
            raise UsageError(f"must be between 0 and 1 (a share of the leads), not {self.holdout}",
                             option="--holdout")
        if self.bins < 2:
            raise UsageError(f"must be at least 2, not {self.bins}", option="--bins")
        if self.c <= 0:
            raise UsageError(f"must be above 0, not {self.c}", option="--c")
        if self.open_after_days is not None and self.open_after_days < 0:
            raise UsageError(f"must be 0 days or more, not {self.open_after_days}", option="--open-after")


@dataclass
class Example:
    """One lead with a known outcome: its facts at the outcome date."""

    id: int
    won: int
    created_at: datetime
    outcome_at: datetime
    facts: dict[str, Any]
    score: float = 0.0


@dataclass
class FitResult:
    model: Model
    warnings: list[str] = field(default_factory=list)
    left_out: list[dict] = field(default_factory=list)
    examples: int = 0
    clf: Any = None                          # the fitted scikit-learn estimator
    features: list[Feature] = field(default_factory=list)


def _sklearn():
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise ModelError("fitting a model needs scikit-learn, which is not installed",
                         hint="pip install 'leadctl[model]'") from None
    return LogisticRegression


# ---------------------------------------------------------------- examples from the store
def _field_candidates() -> list[str]:
    return [n for n in CONDITION if BY_NAME[n].type in ("text", "int", "float", "bool")]


def load_examples(store, rules: RuleSet, *, now: datetime, options: FitOptions) -> tuple[list[Example], dict]:
    """The leads with a known outcome, their facts measured at the outcome; and what was read."""
    from sqlalchemy import select

    from ..store.history import entered_stages
    from ..store.models import Activity, Lead

    leads_t, acts_t = Lead.__table__, Activity.__table__  # type: ignore[attr-defined]
    won_names = set(rules.stages.won)
    lost_names = set(rules.stages.lost)
    fields = [n for n in _field_candidates() if n not in REASONS and n in leads_t.c]
    has_flags = "flags" in leads_t.c
    cols = ["id", "stage", "stages_entered", "created_at", "stage_changed_at", "updated_at", "attributes", "score",
            *fields, *(["flags"] if has_flags else [])]
    examples: list[Example] = []
    seen: Counter = Counter()
    with store.connect() as conn:
        for row in conn.execute(select(*(leads_t.c[c] for c in dict.fromkeys(cols)))
                                .where(leads_t.c.erased_at.is_(None))):
            r = row._mapping
            seen["leads"] += 1
            entered = set(entered_stages(r["stages_entered"])) | {r["stage"]}
            outcome_at = r["stage_changed_at"] or r["updated_at"] or r["created_at"]
            if entered & won_names:
                won = 1
            elif r["stage"] in lost_names:
                won = 0
            elif options.open_after_days is not None and days_between(r["created_at"], now) is not None \
                    and (now - r["created_at"]).days >= options.open_after_days:
                won, outcome_at = 0, now
                seen["open_counted"] += 1
            else:
                seen["open_left_out"] += 1
                continue
            facts = {n: r[n] for n in fields}
            if has_flags:
                facts["flags"] = r["flags"]
            for k, v in (r["attributes"] or {}).items():
                facts[ATTRIBUTE_PREFIX + k] = v
            examples.append(Example(r["id"], won, r["created_at"], outcome_at, facts, float(r.get("score") or 0)))
        # Activities: counted and dated only when before the outcome; how many came after is
        # what the leakage guard reads.
        by_id = {e.id: e for e in examples}
        acts: dict[int, dict[str, list]] = defaultdict(dict)
        after: Counter = Counter()
        total: Counter = Counter()
        norm: dict[str, str] = {}
        for lead_id, typ, at in conn.execute(select(acts_t.c.lead_id, acts_t.c.type, acts_t.c.at)):
            e = by_id.get(lead_id)
            if e is None or typ is None or at is None:
                continue
            key = norm.get(typ) or norm.setdefault(typ, activity_key(typ))
            total[key] += 1
            if at > e.outcome_at:
                after[key] += 1
                continue
            agg = acts[lead_id].get(key)
            if agg is None:
                acts[lead_id][key] = [1, at]
            else:
                agg[0] += 1
                if at > agg[1]:
                    agg[1] = at
    # Data-quality flags: one true/false fact per flag any example has.
    words = sorted({w for e in examples for w in (e.facts.get("flags") or "").split()})
    for e in examples:
        flags = e.facts.pop("flags", None)
        for w in words:
            e.facts[FLAG_PREFIX + w] = has_flag(flags, w)
    refused_types = {t for t in total if after[t] >= AFTER_OUTCOME_SHARE * total[t]}
    types = sorted(t for t in total if t not in refused_types)
    for e in examples:
        mine = acts.get(e.id, {})
        for t in types:
            n, last = mine.get(t, (0, None))
            e.facts[f"{ACTIVITY_PREFIX}{t}.count"] = n
            e.facts[f"{ACTIVITY_PREFIX}{t}.days_since"] = days_between(last, e.outcome_at)
    info = {"leads": seen["leads"], "open_left_out": seen["open_left_out"], "open_counted": seen["open_counted"],
            "refused_activity": {t: (after[t], total[t]) for t in sorted(refused_types)},
            "fields": fields, "activity_types": types}
    return examples, info


# ---------------------------------------------------------------- fitting
def _encoders(train: Sequence[Example], names: Iterable[str], options: FitOptions) -> list[Feature]:
    """One Feature per fact with its keys (weights 0 until fitted), learnt from the training part only."""
    out = []
    for name in names:
        values = [e.facts.get(name) for e in train]
        nums = [_as_number(v) for v in values]
        present = [v for v in values if category_text(v) is not None]
        if not present:
            continue
        numeric = [x for x in nums if x is not None]
        is_number = (name.startswith(ACTIVITY_PREFIX) or (name in BY_NAME and BY_NAME[name].type in ("int", "float"))
                     or (name.startswith(ATTRIBUTE_PREFIX) and len(numeric) >= 0.95 * len(present)
                         and len(set(numeric)) > options.bins))
        if is_number:
            edges = _quantile_edges(numeric, options.bins)
            keys = [str(i) for i in range(len(edges) + 1)] + [MISSING]
            out.append(Feature(name, "number", dict.fromkeys(keys, 0.0), edges=edges))
        else:
            counts = Counter(t for t in (category_text(v) for v in present) if t is not None)
            kept = sorted(v for v, n in counts.items() if n >= options.rare)
            out.append(Feature(name, "category", dict.fromkeys([*kept, OTHER, MISSING], 0.0)))
    return out


def _quantile_edges(xs: list[float], bins: int) -> tuple[float, ...]:
    xs = sorted(xs)
    if not xs:
        return ()
    edges: list[float] = []
    for k in range(1, bins):
        q = xs[min(len(xs) - 1, len(xs) * k // bins)]
        if q > xs[0] and (not edges or q > edges[-1]):
            edges.append(q)
    return tuple(edges)


def _matrix(examples: Sequence[Example], features: list[Feature]):
    """The one-hot design matrix (sparse) and each feature's column of each key."""
    import numpy as np
    from scipy.sparse import csr_matrix

    offsets: list[dict[str, int]] = []
    n_cols = 0
    for f in features:
        offsets.append({k: n_cols + i for i, k in enumerate(f.weights)})
        n_cols += len(f.weights)
    rows, cols = [], []
    for r, e in enumerate(examples):
        for f, off in zip(features, offsets):
            rows.append(r)
            cols.append(off[f.key(e.facts.get(f.name))])
    data = np.ones(len(rows))
    return csr_matrix((data, (rows, cols)), shape=(len(examples), n_cols)), offsets


def _single_fact_auc(f: Feature, train: Sequence[Example]) -> float | None:
    """The AUC of ranking the training leads by their value's won rate for this one fact."""
    wins: Counter = Counter()
    seen: Counter = Counter()
    keys = [f.key(e.facts.get(f.name)) for e in train]
    for k, e in zip(keys, train):
        seen[k] += 1
        wins[k] += e.won
    return metrics.auc([e.won for e in train], [wins[k] / seen[k] for k in keys])


def select_facts(examples: Sequence[Example], options: FitOptions) -> tuple[list[str], list[dict]]:
    """The facts a fit may use, and those left out with the reason."""
    names: list[str] = []
    left: list[dict] = []
    after = set(options.after_contact)
    exclude = set(options.exclude)
    present: Counter = Counter()
    for e in examples:
        present.update(k for k, v in e.facts.items() if v is not None and v != "")
    all_names = list(dict.fromkeys(k for e in examples[:1] for k in e.facts)) + sorted(
        {k for e in examples for k in e.facts if k.startswith(ATTRIBUTE_PREFIX)})
    for name in dict.fromkeys(all_names):
        if name in after or (name.endswith((".count", ".days_since")) and name.rsplit(".", 1)[0] in after):
            left.append({"fact": name, "reason": "refused: declared after_contact (known only after a salesperson "
                                                 "talked to the lead)"})
        elif name in exclude:
            left.append({"fact": name, "reason": "left out by --exclude"})
        elif not present[name]:
            left.append({"fact": name, "reason": "empty on every lead with an outcome"})
        elif name.startswith(ATTRIBUTE_PREFIX) and present[name] < ATTRIBUTE_MIN_SHARE * len(examples):
            left.append({"fact": name, "reason": f"present on only {present[name]} of {len(examples)} leads"})
        else:
            names.append(name)
    for name, reason in REASONS.items():
        if name in BY_NAME or name in DAYS_SINCE:
            left.append({"fact": name, "reason": reason})
    for name in CONDITION:
        if BY_NAME[name].type == "datetime" and name not in REASONS:
            left.append({"fact": name, "reason": "a date (the time split's key or a latest-event stamp)"})
    return names, left


def fit_examples(examples: Sequence[Example], options: FitOptions, *, now: datetime,
                 info: dict | None = None) -> FitResult:
    """Fit, validate on the most recent part, and build the Model (weights as log-odds)."""
    options.check()
    won = sum(e.won for e in examples)
    lost = len(examples) - won
    if won < options.min_each or lost < options.min_each:
        raise ModelError(
            f"too few leads with an outcome to fit a model: {won} won and {lost} lost; "
            f"at least {options.min_each} of each are needed",
            hint="import closed deals (won and lost stages) or count old open leads as not won with --open-after")
    info = dict(info or {})
    names, left = select_facts(examples, options)
    for t, (n_after, n_total) in (info.get("refused_activity") or {}).items():
        left.append({"fact": f"{ACTIVITY_PREFIX}{t}.*",
                     "reason": f"refused: {n_after} of {n_total} such activities are dated after the lead's outcome"})
    ordered = sorted(examples, key=lambda e: (e.created_at, e.id))
    cut = int(round(len(ordered) * (1 - options.holdout)))
    train, test = ordered[:cut], ordered[cut:]
    t_won = sum(e.won for e in train)
    if t_won in (0, len(train)):
        raise ModelError(f"the training part ({len(train)} oldest leads) has only "
                         f"{'lost' if t_won == 0 else 'won'} leads; a model needs both",
                         hint="lower --holdout or import more history")
    features = _encoders(train, names, options)
    if not features:
        raise ModelError("no fact is filled in on the leads with an outcome; nothing to learn from")
    X, offsets = _matrix(train, features)
    y = [e.won for e in train]
    clf = _sklearn()(C=options.c, max_iter=5000, tol=1e-8)
    clf.fit(X, y)
    coef = clf.coef_[0]
    warnings = []
    support: dict[str, dict[str, list[int]]] = {}
    for f, off in zip(features, offsets):
        for k, col in off.items():
            f.weights[k] = float(coef[col])
        sup: dict[str, list[int]] = {k: [0, 0] for k in f.weights}
        for e in train:
            sup[f.key(e.facts.get(f.name))][0 if e.won else 1] += 1
        f.support = {k: (a, b) for k, (a, b) in sup.items()}
        support[f.name] = sup
    single = {}
    for f in features:
        a = _single_fact_auc(f, train)
        single[f.name] = None if a is None else round(a, 4)
        if a is not None and a > SINGLE_FACT_AUC:
            warnings.append(f"{f.name} alone separates won from lost (AUC {a:.3f} on the training leads): is it "
                            "known only after contact or after the outcome? If so, declare it after_contact")
    model = Model(intercept=float(clf.intercept_[0]), features=features)
    validation: dict[str, Any] = {"split": "by creation date", "holdout_share": options.holdout}
    if test:
        ys = [e.won for e in test]
        validation["holdout_from"] = test[0].created_at.isoformat(timespec="seconds")
        validation["model"] = metrics.figures(ys, [model.probability(e.facts) for e in test])
        validation["hand_written_score"] = metrics.figures(ys, [e.score for e in test], probabilities=False)
        if len(set(ys)) < 2:
            warnings.append("the held-out leads are all " + ("won" if ys[0] else "lost") + ": no AUC to report")
    validation["single_fact_auc"] = single
    model.info = {
        "after_contact": list(options.after_contact),
        "left_out": left,
        "training": {
            "fitted_at": now.isoformat(timespec="seconds"),
            "window": {"from": train[0].created_at.isoformat(timespec="seconds"),
                       "to": train[-1].created_at.isoformat(timespec="seconds")},
            "leads": len(train), "won": t_won, "lost": len(train) - t_won,
            "open_leads": ("left out" if options.open_after_days is None
                           else f"not won after {options.open_after_days} days"),
            "options": {"rare": options.rare, "bins": options.bins, "c": options.c},
        },
        "validation": validation,
    }
    return FitResult(model=model, warnings=warnings, left_out=left, examples=len(examples), clf=clf,
                     features=features)


def fit_model(store, rules: RuleSet, *, now: datetime, options: FitOptions) -> FitResult:
    """Read the leads with an outcome from the store and fit (see fit_examples)."""
    options.check()
    examples, info = load_examples(store, rules, now=now, options=options)
    return fit_examples(examples, options, now=now, info=info)


def design(examples: Sequence[Example], features: list[Feature]):
    """The matrix scikit-learn sees for these examples (tests compare predict_proba with the file)."""
    return _matrix(examples, features)[0]


__all__ = ["FitOptions", "FitResult", "Example", "ModelError", "fit_model", "fit_examples", "load_examples",
           "design"]
