"""The scorer builds each fired set's result once and shares it: every lead still gets what a fresh scorer gives it."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings, strategies as st

from leadctl.engine.qualify import Qualifier
from leadctl.engine.scoring import Scorer

NOW = datetime(2026, 11, 20, 10, 0)

leads = st.lists(st.fixed_dictionaries({
    "title": st.sampled_from([None, "CEO", "Student", "VP Sales", "Head of IT", "intern"]),
    "industry": st.sampled_from([None, "SaaS", "Government", "Retail"]),
    "employees": st.sampled_from([None, 10, 250, 5000]),
    "country": st.sampled_from([None, "US", "FR"]),
    "email_domain": st.sampled_from([None, "gmail.com", "acme.com"]),
    "attributes": st.sampled_from([{}, {"budget": ">100k"}, {"budget": "10k-50k"}]),
    "stage": st.sampled_from([None, "new", "mql", "sql", "customer", "Junk Lead"]),
    # Last activity: long ago, just now, or a few minutes ahead of the clock (idle -0.0 days).
    "last_activity_at": st.sampled_from([None, NOW - timedelta(days=40), NOW, NOW + timedelta(minutes=30)]),
    "activity": st.sampled_from([{}, {"demo_request": (1, NOW - timedelta(days=3))},
                                 {"email_open": (7, NOW + timedelta(minutes=5))}]),
    "created_at": st.just(NOW - timedelta(days=90)),
}), min_size=1, max_size=30)


def _text(res) -> str:
    return json.dumps([res.score, res.fit_score, res.engagement_score, res.grade, res.sig, res.breakdown()])


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(leads=leads)
def test_a_shared_result_is_what_a_fresh_scorer_gives_each_lead(rules, leads):
    shared = Scorer(rules.scoring)
    for lead in leads:
        assert _text(shared.score(lead, {}, NOW)) == _text(Scorer(rules.scoring).score(lead, {}, NOW))


def test_minus_zero_idle_days_is_kept_apart_from_zero(rules):
    """-0.0 equals 0.0 as a key but is stored as "-0.0": the two leads must not share a breakdown."""
    shared = Scorer(rules.scoring)
    ahead = {"activity": {"email_open": (3, NOW + timedelta(minutes=30))}, "created_at": NOW}
    behind = {"activity": {"email_open": (3, NOW - timedelta(minutes=30))}, "created_at": NOW}
    a, b = shared.score(ahead, {}, NOW), shared.score(behind, {}, NOW)
    assert a.breakdown()["idle_days"] == 0.0 and str(a.breakdown()["idle_days"]) == "-0.0"
    assert str(b.breakdown()["idle_days"]) == "0.0"


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(leads=leads)
def test_a_shared_stage_move_is_what_a_fresh_qualifier_gives_each_lead(rules, leads):
    shared = Qualifier(rules.qualification, rules.stages)
    for lead in leads:
        lead = {**lead, "score": 75, "do_not_contact": None, "email": "x@acme.com", "phone": None}
        fresh = Qualifier(rules.qualification, rules.stages)
        assert shared.stage(lead, NOW) == fresh.stage(lead, NOW)
