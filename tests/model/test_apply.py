"""Applying model.yaml: the chunk-wise path `process` runs gives exactly the per-lead formula."""
from __future__ import annotations

import math
from datetime import datetime, timedelta

from leadctl.model.facts import fact
from leadctl.model.model import parse_model, sigmoid

NOW = datetime(2026, 11, 20, 10, 0)
DOC = {
    "intercept": -0.5,
    "features": [
        {"name": "source", "type": "category", "values": {"Webinar": {"weight": 1.2}, "1": 0.3, "true": 0.2},
         "other": -0.1, "missing": -0.3},
        {"name": "employees", "type": "number",
         "bins": [{"below": 50, "weight": -0.4}, {"from": 50, "below": 500, "weight": 0.1},
                  {"from": 500, "weight": 0.6}],
         "missing": 0.05},
        {"name": "attributes.budget", "type": "number",
         "bins": [{"below": 10, "weight": -1}, {"from": 10, "weight": 1}]},
        {"name": "activity.demo.count", "type": "number",
         "bins": [{"below": 1, "weight": -0.2}, {"from": 1, "weight": 0.9}]},
        {"name": "flags.free_mail", "type": "category", "values": {"true": -0.6, "false": 0.1}},
        {"name": "activity.demo.days_since", "type": "number",
         "bins": [{"below": 7, "weight": 0.5}, {"from": 7, "weight": -0.5}], "missing": -0.7},
    ],
}
ODD = ["Webinar", " Webinar ", "webinar", "", None, True, 1, 1.0, "1", float("nan"), ["a"], {"x": 1}, "Ads"]
NUMS = [None, 0, 49, 50, 499.5, 500, float("nan"), "120", "1,200", "many", True, -3]


def test_chunk_logits_equal_the_per_lead_formula():
    model = parse_model(DOC)
    leads = []
    for i in range(len(ODD) * len(NUMS)):
        demo = [(i % 4, NOW - timedelta(days=i % 11)), (0, None)][i % 5 == 0]
        leads.append({"source": ODD[i % len(ODD)], "employees": NUMS[i % len(NUMS)],
                      "attributes": [None, {}, {"budget": NUMS[(i * 7) % len(NUMS)]}][i % 3],
                      "activity": {"demo": demo} if i % 2 else {},
                      "flags": [None, "", "free_mail", "role_account free_mail", "free_mailer"][i % 5]})
    fast = model.logits(leads, NOW)
    slow = [model.logit({n: fact(lead, n, NOW) for n in model.facts}) for lead in leads]
    assert fast == slow
    probs = [sigmoid(z) for z in fast]
    assert all(0 < p < 1 for p in probs)
    # a value the file does not list takes `other`; a missing one `missing`
    assert model.features[0].weight("Ads") == -0.1 and model.features[0].weight(None) == -0.3
    assert model.features[1].weight(500) == 0.6 and model.features[1].weight(float("nan")) == 0.05
    assert math.isclose(sigmoid(-800), 0.0, abs_tol=1e-300) and sigmoid(800) == 1.0
