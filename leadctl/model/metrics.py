"""How well a ranking predicts winning: AUC, log loss, calibration by decile, lift.

Plain Python so `report scoring --model` computes the same figures for the hand-written
score as `model fit` does for the model. `y` is 1 for won, 0 for lost; `p` a probability
(or any score, for AUC and lift).
"""
from __future__ import annotations

import math
from typing import Sequence


def auc(y: Sequence[int], p: Sequence[float]) -> float | None:
    """Area under the ROC curve (ties count half); None when one class is absent."""
    pos = sum(y)
    neg = len(y) - pos
    if not pos or not neg:
        return None
    order = sorted(range(len(p)), key=lambda i: p[i])
    rank_sum = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and p[order[j + 1]] == p[order[i]]:
            j += 1
        mid = (i + j) / 2 + 1  # the tie group's average rank, 1-based
        rank_sum += mid * sum(y[order[k]] for k in range(i, j + 1))
        i = j + 1
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def log_loss(y: Sequence[int], p: Sequence[float], eps: float = 1e-15) -> float | None:
    """Mean negative log-likelihood of the outcomes (probabilities clipped to [eps, 1-eps])."""
    if not y:
        return None
    total = 0.0
    for t, q in zip(y, p):
        q = min(max(q, eps), 1 - eps)
        total -= math.log(q) if t else math.log(1 - q)
    return total / len(y)


def _groups(n: int, parts: int) -> list[tuple[int, int]]:
    return [(n * k // parts, n * (k + 1) // parts) for k in range(parts)]


def calibration(y: Sequence[int], p: Sequence[float], parts: int = 10) -> list[dict]:
    """Leads sorted by probability in `parts` equal groups (lowest first): mean predicted vs actual won rate."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    out = []
    for k, (a, b) in enumerate(_groups(len(order), parts)):
        idx = order[a:b]
        if not idx:
            continue
        out.append({"decile": k + 1, "leads": len(idx),
                    "predicted": round(sum(p[i] for i in idx) / len(idx), 4),
                    "actual": round(sum(y[i] for i in idx) / len(idx), 4)})
    return out


def lift(y: Sequence[int], p: Sequence[float], tops: Sequence[int] = (10, 20, 30)) -> dict[str, float | None]:
    """Won rate of the top N % by score ÷ the overall won rate, for each N."""
    n = len(y)
    base = sum(y) / n if n else 0
    order = sorted(range(n), key=lambda i: -p[i])
    out: dict[str, float | None] = {}
    for t in tops:
        k = max(1, round(n * t / 100)) if n else 0
        top = order[:k]
        out[f"top_{t}"] = round((sum(y[i] for i in top) / len(top)) / base, 3) if top and base else None
    return out


def figures(y: Sequence[int], p: Sequence[float], *, probabilities: bool = True) -> dict:
    """AUC, log loss (probabilities only), calibration and lift, as stored in model.yaml."""
    a = auc(y, p)
    out: dict = {"leads": len(y), "won": int(sum(y)), "auc": None if a is None else round(a, 4)}
    if probabilities:
        ll = log_loss(y, p)
        out["log_loss"] = None if ll is None else round(ll, 4)
    out["lift"] = lift(y, p)
    out["calibration"] = calibration(y, p)
    return out


# (lowest AUC, verdict): what a held-out AUC means for ranking leads, in plain words.
VERDICTS = ((0.9, "strong"), (0.75, "useful"), (0.6, "weak: rank with care, next to the hand-written score"),
            (float("-inf"), "barely better than chance: do not use it to rank leads"))


def verdict(auc_value: float | None) -> str | None:
    """The plain verdict on a held-out AUC (None without one)."""
    if auc_value is None:
        return None
    return next(text for floor, text in VERDICTS if auc_value >= floor)
