"""Why the model likes (or not) one lead: the factors pushing its probability up and down.

    info = explain_prediction(conn, rules, lead_id, now)
    info["up"][0]   # {"fact": "source", "value": "Webinar", "as": "Webinar", "weight": 1.2, "won": 300,
                    #  "lost": 90, "words": "source is Webinar: raises the odds of winning 3.32× (weight +1.20; …)"}

Computed from the model file and the lead as stored now (the same facts `process` reads).
"""
from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from ..words import activity_key
from .facts import columns_for, fact, reads_activity
from .model import MISSING, category_text, load_model

if TYPE_CHECKING:
    from ..rules.loader import RuleSet

TOP = 5
NEGLIGIBLE = 0.005  # a weight this small changes the odds by under 0.5 %: not a reason worth naming


def words(f: dict) -> str:
    """A factor in plain words: 'source is Webinar: raises the odds of winning 3.32× (weight +1.20; …)'."""
    name = f["fact"]
    if f["as"] == MISSING:
        what = f"{name} is not known"
    elif f["as"] == "(other)":
        what = f"{name} is {f['value']!r} (a rare value)"
    elif f["as"] != category_text(f["value"]):
        what = f"{name} is {f['value']} ({f['as']})"
    else:
        what = f"{name} is {f['value']}"
    odds = math.exp(f["weight"])
    how = f"raises the odds of winning {odds:.2f}×" if odds >= 1 else f"lowers the odds of winning {1 / odds:.2f}×"
    seen = f"; training leads with it: {f['won']:,} won, {f['lost']:,} lost" if f.get("won") is not None else ""
    return f"{what}: {how} (weight {f['weight']:+.2f}{seen})"


def explain_prediction(conn, rules: RuleSet, lead_id: int, now: datetime) -> dict[str, Any] | None:
    """The model's probability for a lead and its top factors up and down (None without a model)."""
    from ..store.models import Activity, Lead

    model = load_model(rules.directory)
    if model is None:
        return None
    leads_t, acts_t = Lead.__table__, Activity.__table__  # type: ignore[attr-defined]
    cols = sorted(c for c in columns_for(model.facts) | {"predicted"} if c in leads_t.c)
    row = conn.execute(select(*(leads_t.c[c] for c in cols)).where(leads_t.c.id == lead_id)).mappings().one()
    lead = dict(row)
    if reads_activity(model.facts):
        acts: dict[str, tuple] = {}
        for typ, n, last in conn.execute(select(acts_t.c.type, func.count(), func.max(acts_t.c.at))
                                         .where(acts_t.c.lead_id == lead_id).group_by(acts_t.c.type)):
            key = activity_key(typ)
            n0, l0 = acts.get(key, (0, None))
            acts[key] = (n0 + n, last if l0 is None or (last is not None and last > l0) else l0)
        lead["activity"] = acts
    facts = {n: fact(lead, n, now) for n in model.facts}
    factors = model.factors(facts)
    for f in factors:
        f["value"] = f["value"].isoformat() if isinstance(f["value"], datetime) else f["value"]
        f["words"] = words(f)
    up = [f for f in factors if f["weight"] >= NEGLIGIBLE][:TOP]
    down = [f for f in factors if f["weight"] <= -NEGLIGIBLE][:TOP]
    return {"probability": model.probability(facts), "stored": lead.get("predicted"),
            "intercept": model.intercept, "up": up, "down": down}
