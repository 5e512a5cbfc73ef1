"""Scoring, qualification and the process run, on a real store (SQLite file, or PostgreSQL)."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from leadctl.engine.diff import diff_rules, score_band
from leadctl.engine.explain import explain_lead
from leadctl.engine.leadref import resolve_lead
from leadctl.engine.process import STATE_KEY, process_leads
from leadctl.engine.stages import set_stage
from leadctl.errors import NotFoundError, UsageError
from leadctl.rules.loader import load_rules
from leadctl.store.models import Activity, Lead, Meta, StageChange

import conftest as factories
from conftest import write_rules

NOW = datetime(2026, 11, 20, 10, 0)
LEADS = Lead.__table__
ACTS = Activity.__table__
HISTORY = StageChange.__table__
META = Meta.__table__

SCORING = """
fit:
  max: 40
  rules:
    - name: Decision maker
      when: {title: {matches: "(?i)\\\\b(ceo|cto|vp)\\\\b"}}
      points: 25
    - name: SaaS
      when: {industry: SaaS}
      points: 20
    - name: Free e-mail provider
      when: {email_domain: [gmail.com, yahoo.com]}
      points: -10
engagement:
  max: 50
  rules:
    - name: Demo requested
      activity: demo_request
      points: 30
    - name: Pricing page views
      activity: page_view
      when: {url: {contains: /pricing}}
      points: 5
      each: true
      max: 15
    - name: Big budget
      when: {attributes.budget: ">100k"}
      points: 10
total: {min: 0, max: 100}
grades:
  fit: {A: 30, B: 15, C: 0}
  engagement: {"1": 40, "2": 15, "3": 0}
"""

QUALIFICATION = """
temperature:
  - {name: hot, when: {score: {gte: 70}}}
  - {name: warm, when: {score: {gte: 40}}}
  - {name: cold}
stages:
  - to: disqualified
    when: {do_not_contact: true}
  - to: sql
    when: {score: {gte: 70}}
  - to: mql
    when: {score: {gte: 40}}
"""


@pytest.fixture
def rules(tmp_path):
    return load_rules(write_rules(tmp_path / "rules", scoring=SCORING, qualification=QUALIFICATION))


def add_lead(store, **values) -> int:
    """A lead created ten days before NOW, its e-mail domain filled in as the importer does."""
    if values.get("email") and "email_domain" not in values:
        values["email_domain"] = values["email"].rsplit("@", 1)[1]
    return factories.add_lead(store, at=NOW - timedelta(days=10), **values)


def add_activity(store, lead_id: int, type_: str, at: datetime, **fields) -> None:
    with store.begin() as conn:
        conn.execute(ACTS.insert().values(lead_id=lead_id, type=type_, at=at, fields=fields or None))


def lead(store, lead_id: int) -> dict:
    with store.connect() as conn:
        return dict(conn.execute(select(LEADS).where(LEADS.c.id == lead_id)).mappings().one())


def history(store, lead_id: int) -> list[tuple]:
    with store.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(HISTORY.c.from_stage, HISTORY.c.to_stage, HISTORY.c.cause, HISTORY.c.detail)
            .where(HISTORY.c.lead_id == lead_id).order_by(HISTORY.c.id))]


def run(store, rules, **kw):
    kw.setdefault("steps", [])   # routing and follow-ups have their own tests
    return process_leads(store, rules, now=NOW, **kw)


# ---------------------------------------------------------------- scoring
def test_fit_group_is_capped_and_grade_follows(store, rules):
    lid = add_lead(store, email="ceo@acme.com", title="CEO", industry="SaaS")
    run(store, rules)
    row = lead(store, lid)
    assert row["fit_score"] == 40            # 25 + 20 = 45, fit max 40
    assert row["score"] == 40
    assert row["grade"] == "A3"
    assert row["explanation"]["fit_raw"] == 45 and row["explanation"]["fit_capped"] == 40


def test_negative_points_and_total_floor(store, rules):
    lid = add_lead(store, email="x@gmail.com", title="Intern")
    run(store, rules)
    row = lead(store, lid)
    assert row["fit_score"] == -10           # groups are only capped at the top
    assert row["score"] == 0                 # total: {min: 0}
    assert row["grade"] == "C3"
    assert row["explanation"]["fit"] == [{"rule": "Free e-mail provider", "points": -10}]


def test_each_with_max_and_activity_when(store, rules):
    lid = add_lead(store, email="a@acme.com", last_activity_at=NOW)
    for i in range(5):
        add_activity(store, lid, "page_view", NOW - timedelta(hours=i), url="/pricing?x")
    add_activity(store, lid, "page_view", NOW, url="/blog")
    add_activity(store, lid, "Demo Request", NOW)           # type matched case/space-insensitively
    run(store, rules)
    row = lead(store, lid)
    eng = {i["rule"]: i for i in row["explanation"]["engagement"]}
    assert eng["Pricing page views"] == {"rule": "Pricing page views", "points": 15, "count": 5}
    assert eng["Demo requested"]["points"] == 30
    assert row["engagement_score"] == 45 and row["score"] == 45


def test_engagement_decay_at_fixed_now(store, tmp_path):
    rules = load_rules(write_rules(tmp_path / "r", scoring="""
        engagement:
          decay: {half_life: 30d}
          rules:
            - {name: Demo, activity: demo_request, points: 40}
        """))
    fresh = add_lead(store, email="f@acme.com", last_activity_at=NOW)
    old = add_lead(store, email="o@acme.com", last_activity_at=NOW - timedelta(days=30))
    older = add_lead(store, email="x@acme.com", last_activity_at=NOW - timedelta(days=60))
    for lid, days in ((fresh, 0), (old, 30), (older, 60)):
        add_activity(store, lid, "demo_request", NOW - timedelta(days=days))
    run(store, rules)
    assert lead(store, fresh)["score"] == 40
    assert lead(store, old)["score"] == 20
    assert lead(store, older)["score"] == 10
    assert lead(store, old)["explanation"]["decay_factor"] == 0.5


def test_stepwise_decay_falls_back_to_created_at(store, tmp_path):
    rules = load_rules(write_rules(tmp_path / "r", scoring="""
        engagement:
          decay: {steps: [{after: 7d, factor: 0.5}, {after: 90d, factor: 0}]}
          rules:
            - {name: Budget, when: {attributes.budget: {exists: true}}, points: 30}
        """))
    lid = add_lead(store, email="b@acme.com", attributes={"budget": "10k"}, created_at=NOW - timedelta(days=10))
    run(store, rules)
    assert lead(store, lid)["score"] == 15


# ---------------------------------------------------------------- qualification
def test_temperature_and_stage_with_history(store, rules):
    lid = add_lead(store, email="ceo@acme.com", title="CEO", industry="SaaS", attributes={"budget": ">100k"},
                   last_activity_at=NOW)
    add_activity(store, lid, "demo_request", NOW)
    run(store, rules)
    row = lead(store, lid)
    assert row["score"] == 80 and row["temperature"] == "hot"
    assert row["stage"] == "sql" and row["stage_changed_at"] == NOW
    [(frm, to, cause, detail)] = history(store, lid)
    assert (frm, to, cause) == ("new", "sql", "rule")
    assert detail.startswith("qualification: to sql (score ≥ 70")


def test_stages_only_move_forward(store, rules):
    lid = add_lead(store, email="ceo@acme.com", title="CEO", stage="opportunity")   # score 25 → no rule
    done = add_lead(store, email="vp@acme.com", title="VP", industry="SaaS", stage="customer")
    run(store, rules)
    assert lead(store, lid)["stage"] == "opportunity"
    assert lead(store, done)["stage"] == "customer"      # terminal: rules never move it
    assert history(store, lid) == [] and history(store, done) == []


def test_lost_beats_open_stages(store, rules):
    lid = add_lead(store, email="ceo@acme.com", title="CEO", industry="SaaS", do_not_contact=True,
                   attributes={"budget": ">100k"}, last_activity_at=NOW)
    add_activity(store, lid, "demo_request", NOW)
    run(store, rules)                                    # sql, mql and disqualified all match
    assert lead(store, lid)["stage"] == "disqualified"


def test_allow_backward_lets_rules_move_back(store, tmp_path):
    folder = write_rules(tmp_path / "r", stages="""
        stages: [{name: new}, {name: mql}, {name: sql}, {name: won, kind: won}]
        allow_backward: true
        """, qualification="""
        stages:
          - {to: mql, when: {score: {lte: 10}}}
        """)
    rules = load_rules(folder)
    lid = add_lead(store, email="a@acme.com", stage="sql")
    run(store, rules)
    assert lead(store, lid)["stage"] == "mql"


# ---------------------------------------------------------------- the run
def test_second_run_changes_nothing(store, rules):
    ids = [add_lead(store, email=f"u{i}@acme.com", title="CEO" if i % 2 else "Engineer",
                    industry="SaaS" if i % 3 else "Retail", last_activity_at=NOW - timedelta(days=i))
           for i in range(30)]
    for lid in ids[::4]:
        add_activity(store, lid, "demo_request", NOW - timedelta(days=3))
    first = run(store, rules)
    assert first.counts["updated"] == 30 and first.leads == 30
    with store.connect() as conn:
        before = conn.execute(select(func.count()).select_from(HISTORY)).scalar()
    second = run(store, rules)
    assert second.counts.get("updated", 0) == 0
    assert second.counts.get("stage_changes", 0) == 0 and second.counts.get("scores_changed", 0) == 0
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(HISTORY)).scalar() == before
    assert "processed 30 leads" in second.summary()


def test_only_given_lead_ids(store, rules):
    a = add_lead(store, email="a@acme.com", title="CEO")
    b = add_lead(store, email="b@acme.com", title="CEO")
    result = run(store, rules, lead_ids={b})
    assert result.leads == 1
    assert lead(store, a)["score"] == 0 and lead(store, a)["explanation"] is None
    assert lead(store, b)["score"] == 25


def test_chunks(store, rules, monkeypatch):
    import leadctl.engine.process as P

    monkeypatch.setattr(P, "CHUNK", 3)
    ids = [add_lead(store, email=f"c{i}@acme.com", title="CEO") for i in range(8)]
    assert run(store, rules).leads == 8
    assert run(store, rules, lead_ids=set(ids[2:7])).leads == 5
    assert all(lead(store, i)["score"] == 25 for i in ids)


def test_dry_run_writes_nothing(store, rules):
    lid = add_lead(store, email="ceo@acme.com", title="CEO", industry="SaaS", last_activity_at=NOW)
    add_activity(store, lid, "demo_request", NOW)
    result = run(store, rules, dry_run=True)
    assert result.counts["stage_changes"] == 1 and "dry run" in result.summary()
    row = lead(store, lid)
    assert row["score"] == 0 and row["stage"] == "new" and row["explanation"] is None
    assert history(store, lid) == []


def test_a_step_mutates_leads_and_process_writes_them_back(store, rules):
    calls = []

    class Assign:
        def start(self, ctx):
            calls.append("start")

        def chunk(self, ctx, leads):
            for lead_ in leads:
                assert lead_["score"] == 25          # runs after scoring
                if lead_["owner"] is None:
                    lead_["owner"], lead_["team"], lead_["assigned_at"] = "dana", "emea", ctx.now
                    ctx.counts["assigned"] += 1

        def finish(self, ctx):
            calls.append("finish")

    lid = add_lead(store, email="ceo@acme.com", title="CEO")
    result = process_leads(store, rules, now=NOW, steps=[Assign()])
    assert calls == ["start", "finish"] and result.counts["assigned"] == 1
    assert "1 assigned" in result.summary()
    row = lead(store, lid)
    assert (row["owner"], row["team"], row["assigned_at"]) == ("dana", "emea", NOW)
    again = process_leads(store, rules, now=NOW, steps=[Assign()])
    assert again.counts.get("updated", 0) == 0


# ---------------------------------------------------------------- explain, stage, diff, LEAD
def test_explain_agrees_with_stored_score(store, rules):
    lid = add_lead(store, email="ceo@acme.com", title="CEO", industry="SaaS", external_id="X-1",
                   last_activity_at=NOW)
    add_activity(store, lid, "page_view", NOW, url="/pricing")
    run(store, rules)
    info = explain_lead(store, rules, "Ceo@Acme.com", NOW)  # e-mails are stored lower case; any case finds them
    row = lead(store, lid)
    assert info["score"]["score"] == row["score"] == 45
    assert info["score"]["fit_capped"] + info["score"]["engagement_capped"] == row["score"]
    assert [i["rule"] for i in info["score"]["fit"]] == ["Decision maker", "SaaS"]
    assert info["score"]["engagement"] == [{"rule": "Pricing page views", "points": 5, "count": 1}]
    assert info["temperature"] == {"value": "warm", "rule": "warm"}
    assert info["stage"]["value"] == "mql" and info["stage"]["rule"]["to"] == "mql"
    assert info["stage_history"][0]["cause"] == "rule"
    assert info["score"]["stale"] is False
    assert explain_lead(store, rules, "X-1", NOW)["lead"]["id"] == lid


def test_resolve_lead(store):
    a = add_lead(store, email="ada@example.com", external_id="1001")
    with store.connect() as conn:
        assert resolve_lead(conn, str(a)) == a
        assert resolve_lead(conn, "ADA@example.com") == a
        assert resolve_lead(conn, "1001") == a
        with pytest.raises(NotFoundError):
            resolve_lead(conn, "nobody@example.com")


def test_manual_stage_moves(store, rules):
    lid = add_lead(store, email="a@acme.com", stage="sql")
    with pytest.raises(UsageError, match="will not move lead .* back from sql to mql") as refused:
        set_stage(store, lid, "mql", reason="oops", force=False, now=NOW, stages=rules.stages)
    assert "--force" in refused.value.hint  # the fact in the message, the way out in the hint
    with pytest.raises(UsageError, match="unknown stage"):
        set_stage(store, lid, "nope", force=False, now=NOW, stages=rules.stages)
    res = set_stage(store, "a@acme.com", "Closed - Converted", reason="signed", force=False, now=NOW,
                    stages=load_rules(write_rules(Path(rules.directory).parent / "s", stages="""
                        stages:
                          - {name: new}
                          - {name: mql}
                          - {name: sql}
                          - {name: customer, kind: won, aliases: [Closed - Converted]}
                        """)).stages)
    assert res.changed and res.to_stage == "customer"
    assert history(store, lid) == [("sql", "customer", "manual", "signed")]
    res = set_stage(store, lid, "new", reason="reopened", force=True, now=NOW, stages=rules.stages)
    assert res.changed and res.forced and lead(store, lid)["stage"] == "new"


def test_diff_writes_nothing_and_counts_transitions(store, rules, tmp_path):
    for i in range(6):
        add_lead(store, email=f"d{i}@acme.com", title="CEO", industry="SaaS" if i < 4 else "Retail")
    run(store, rules)                 # 4 × 40 (mql, warm), 2 × 25 (new, cold)
    new = load_rules(write_rules(tmp_path / "new", scoring=SCORING.replace("points: 20", "points: 5"),
                                 qualification=QUALIFICATION))
    with store.connect() as conn:
        snap = [tuple(r) for r in conn.execute(select(LEADS).order_by(LEADS.c.id))]
        hist = conn.execute(select(func.count()).select_from(HISTORY)).scalar()
    result = diff_rules(store, rules, new, NOW, examples=2, steps=[])
    with store.connect() as conn:
        assert [tuple(r) for r in conn.execute(select(LEADS).order_by(LEADS.c.id))] == snap
        assert conn.execute(select(func.count()).select_from(HISTORY)).scalar() == hist
    assert result.leads == 6 and result.changed == 4
    [band] = result.transitions["score_band"]
    assert (band.from_, band.to, band.count, len(band.examples)) == ("40-49", "30-39", 4, 2)
    [temp] = result.transitions["temperature"]
    assert (temp.from_, temp.to, temp.count) == ("warm", "cold", 4)
    assert result.transitions["stage"] == []           # forward only: mql stays mql
    assert result.rules["scoring.yaml"]["changed"] == ["SaaS"]
    assert score_band(73) == "70-79"


# ---------------------------------------------------------------- only what changed is evaluated again
def _outcome(store) -> list[tuple]:
    with store.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(LEADS.c.id, LEADS.c.score, LEADS.c.grade, LEADS.c.temperature, LEADS.c.stage,
                   LEADS.c.explanation).order_by(LEADS.c.id))]


def _full_outcome(store, rules, now=NOW) -> list[tuple]:
    """What a run that evaluates every lead gives (the record of the last run removed first)."""
    with store.begin() as conn:
        conn.execute(META.delete().where(META.c.key == STATE_KEY))
    process_leads(store, rules, now=now, steps=[])
    return _outcome(store)


def test_a_rerun_with_the_same_rules_and_clock_evaluates_nothing(store, rules):
    ids = [add_lead(store, email=f"ceo{i}@acme.com", title="CEO", industry="SaaS") for i in range(3)]
    first = run(store, rules)
    assert first.to_dict()["leads"] == 3 and "unchanged_skipped" not in first.to_dict()
    again = run(store, rules)
    assert again.to_dict()["unchanged_skipped"] == 3
    assert again.summary().startswith("processed 3 leads: 0 scores changed")
    assert [lead(store, i)["score"] for i in ids] == [40, 40, 40]


def test_a_lead_written_by_anyone_else_is_evaluated_again(store, rules):
    a = add_lead(store, email="a@acme.com", title="CEO")
    b = add_lead(store, email="b@acme.com")
    run(store, rules)
    with store.begin() as conn:   # any writer: the trigger marks the row
        conn.execute(LEADS.update().where(LEADS.c.id == b).values(industry="SaaS"))
    res = run(store, rules)
    assert res.to_dict()["unchanged_skipped"] == 1 and res.counts["scores_changed"] == 1
    assert lead(store, b)["score"] == 20 and lead(store, a)["score"] == 25
    assert _outcome(store) == _full_outcome(store, rules)


def test_a_new_activity_makes_its_lead_evaluated_again(store, rules):
    lid = add_lead(store, email="a@acme.com")
    run(store, rules)
    add_activity(store, lid, "demo_request", NOW - timedelta(hours=1))
    res = run(store, rules)
    assert res.to_dict()["unchanged_skipped"] == 0
    assert lead(store, lid)["engagement_score"] == 30


def test_a_deleted_activity_makes_every_lead_evaluated_again(store, rules):
    lid = add_lead(store, email="a@acme.com")
    add_lead(store, email="b@acme.com")
    add_activity(store, lid, "demo_request", NOW - timedelta(hours=1))
    run(store, rules)
    with store.begin() as conn:
        conn.execute(ACTS.delete())
    res = run(store, rules)
    assert "unchanged_skipped" not in res.to_dict()
    assert lead(store, lid)["engagement_score"] == 0


def test_an_earlier_clock_or_other_rules_evaluate_everything(store, rules, tmp_path):
    lid = add_lead(store, email="a@acme.com", title="CEO")
    run(store, rules)
    later = process_leads(store, rules, now=NOW + timedelta(days=1), steps=[])
    assert later.to_dict()["unchanged_skipped"] == 1   # these rules do not read the clock
    earlier = process_leads(store, rules, now=NOW, steps=[])
    assert "unchanged_skipped" not in earlier.to_dict()
    other = load_rules(write_rules(tmp_path / "other", scoring=SCORING.replace("points: 25", "points: 5"),
                                   qualification=QUALIFICATION))
    res = process_leads(store, other, now=NOW + timedelta(days=1), steps=[])
    assert "unchanged_skipped" not in res.to_dict() and lead(store, lid)["score"] == 5


def test_a_run_over_some_leads_with_other_rules_voids_the_record(store, rules, tmp_path):
    a = add_lead(store, email="a@acme.com", title="CEO")
    b = add_lead(store, email="b@acme.com", title="CEO")
    run(store, rules)
    other = load_rules(write_rules(tmp_path / "other", scoring=SCORING.replace("points: 25", "points: 5"),
                                   qualification=QUALIFICATION))
    run(store, other, lead_ids={a})
    assert lead(store, a)["score"] == 5
    res = run(store, rules)               # a was stamped under other rules: everything again
    assert "unchanged_skipped" not in res.to_dict()
    assert lead(store, a)["score"] == 25 and lead(store, b)["score"] == 25


def test_a_dry_run_stamps_nothing(store, rules):
    add_lead(store, email="a@acme.com", title="CEO")
    run(store, rules, dry_run=True)
    res = run(store, rules)
    assert "unchanged_skipped" not in res.to_dict() and res.counts["scores_changed"] == 1


_TITLES = st.sampled_from([None, "CEO", "cto", " VP Sales ", "Intern", "Engineer"])
_INDUSTRIES = st.sampled_from([None, "SaaS", "saas ", "Retail"])
_EMAILS = st.sampled_from(["@acme.com", "@gmail.com", "@yahoo.com"])
_BUDGETS = st.sampled_from([None, ">100k", "10k", 5])
_EDITS = st.lists(st.tuples(st.sampled_from(["title", "industry", "budget", "demo", "view", "forget", "dnc"]),
                            st.integers(0, 7), _TITLES, _INDUSTRIES, _BUDGETS), min_size=1, max_size=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(leads=st.lists(st.tuples(_TITLES, _INDUSTRIES, _EMAILS, _BUDGETS), min_size=1, max_size=8),
       edits=_EDITS)
def test_evaluating_only_what_changed_equals_evaluating_everything(store, rules, leads, edits):
    """Any writes between two runs: the second run, evaluating only what changed, leaves every lead
    (score, grade, temperature, stage, explanation) as a run evaluating every lead does."""
    with store.begin() as conn:
        conn.execute(ACTS.delete())
        conn.execute(LEADS.delete())
    ids = [add_lead(store, email=f"p{i}{dom}", title=t, industry=ind,
                    attributes=None if b is None else {"budget": b})
           for i, (t, ind, dom, b) in enumerate(leads)]
    run(store, rules)
    for what, i, title, industry, budget in edits:
        lid = ids[i % len(ids)]
        with store.begin() as conn:
            one = LEADS.update().where(LEADS.c.id == lid)
            if what == "title":
                conn.execute(one.values(title=title))
            elif what == "industry":
                conn.execute(one.values(industry=industry))
            elif what == "budget":
                conn.execute(one.values(attributes=None if budget is None else {"budget": budget}))
            elif what == "dnc":
                conn.execute(one.values(do_not_contact=True))
            elif what == "forget":
                conn.execute(ACTS.delete().where(ACTS.c.lead_id == lid))
            else:
                conn.execute(ACTS.insert().values(lead_id=lid, type="demo_request" if what == "demo" else "page_view",
                                                  at=NOW - timedelta(days=i), fields={"url": "/pricing"}))
    run(store, rules)
    assert _outcome(store) == _full_outcome(store, rules)
