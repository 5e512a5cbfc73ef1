"""How a run reads leads: `attributes` come as text and each distinct text is decoded once, yet
every lead gets objects of its own, equal to decoding its text."""
from __future__ import annotations

import json
from datetime import datetime

from leadctl.engine.process import Pipeline, load_steps

NOW = datetime(2026, 12, 1, 10, 0)


def test_each_lead_gets_its_own_decoded_attributes(rules):
    pipeline = Pipeline(rules, NOW, load_steps())
    assert pipeline.attributes  # the default rules read attributes.budget
    flat = json.dumps({"budget": ">100k", "n": 3, "ok": True, "none": None})
    nested = json.dumps({"budget": "10k-50k", "tags": ["a", "b"], "more": {"x": 1}})
    texts = [flat, flat, nested, nested, None, "null", "[1, 2]", "[1, 2]"]
    leads = [{"id": i, "attributes": t} for i, t in enumerate(texts)]
    pipeline.attributes_of(leads)
    got = [lead["attributes"] for lead in leads]
    assert got == [json.loads(t) if t not in (None, "null") else {} for t in texts]
    got[0]["budget"] = "changed"
    got[2]["tags"].append("c")
    got[2]["more"]["x"] = 2
    got[6].append(3)
    assert got[1]["budget"] == ">100k" and got[3] == json.loads(nested) and got[7] == [1, 2]
    again = [{"id": 9, "attributes": nested}]
    pipeline.attributes_of(again)  # what is remembered is untouched by the changes above
    assert again[0]["attributes"] == json.loads(nested)
