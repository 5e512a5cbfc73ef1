from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from leadctl.engine.leadquery import LeadFilter
from leadctl.reports.common import DEFAULT_STAGES
from leadctl.reports.lost import UNSPECIFIED, catalogue_of, lost_report, reason_in
from leadctl.rules.schema import StagesConfig
from leadctl.store.models import Lead

from .conftest import add_lead
from conftest import write_rules

D = datetime(2026, 1, 5)
CATALOGUE = StagesConfig()


def test_default_catalogue():
    names = [r.name for r in CATALOGUE.lost_reasons]
    assert names == ["no_budget", "no_decision_maker", "chose_competitor", "no_response", "not_a_fit", "duplicate",
                     "bad_data"]
    assert CATALOGUE.lost_reason("No Budget").name == "no_budget"       # the label, any case
    assert CATALOGUE.lost_reason(" too expensive ").name == "no_budget"  # an alias
    assert CATALOGUE.lost_reason("went quiet") is None


def test_reason_in_stage_change_details():
    assert reason_in("qualification: to lost (score < 5): not_a_fit", CATALOGUE) == "not_a_fit"
    assert reason_in("qualification: dead leads (days_since_activity > 90): no_response: silent 3 months",
                     CATALOGUE) == "no_response"
    assert reason_in("Competitor", CATALOGUE) == "chose_competitor"
    assert reason_in("went quiet", CATALOGUE) is None and reason_in(None, CATALOGUE) is None


def _fixture(store):
    lost = [("new", D), ("mql", D + timedelta(days=1)), ("lost", D + timedelta(days=2))]
    with store.begin() as conn:
        add_lead(conn, source="web", owner="ana", lost_reason="no_budget", history=lost)
        b = add_lead(conn, source="web", owner="ana", history=[("new", D), ("lost", D + timedelta(days=1))])
        c = add_lead(conn, source="fair", owner="bo", history=[("new", D), ("lost", D + timedelta(days=3))])
        add_lead(conn, source="fair", history=[("new", D), ("disqualified", D + timedelta(days=1))])  # none given
        e = add_lead(conn, source="fair", owner="bo", history=[("new", D), ("lost", D + timedelta(days=1))])
        add_lead(conn, source="web", stage="mql")  # not lost
        from leadctl.store.models import StageChange

        sh = StageChange.__table__
        for lead, detail in ((b, "Too expensive"),                                   # an old free-text reason
                             (c, "qualification: to lost (score < 5): not_a_fit"),   # a rule's
                             (e, "went quiet")):                                     # free text, no catalogue
            conn.execute(sh.update().where(sh.c.lead_id == lead, sh.c.to_stage == "lost").values(detail=detail))


def test_every_lost_lead_shows_a_catalogue_reason(store):
    _fixture(store)
    report = lost_report(store, DEFAULT_STAGES, CATALOGUE, LeadFilter())
    assert report.lost == 5
    overall = {r.reason: r.leads for r in report.rows if r.dimension == "reason"}
    assert overall == {"no_budget": 2, "not_a_fit": 1, UNSPECIFIED: 2}
    assert list(overall) == ["no_budget", "not_a_fit", UNSPECIFIED]  # most frequent first, unspecified last
    names = {r.name for r in CATALOGUE.lost_reasons} | {UNSPECIFIED}
    assert {r.reason for r in report.rows} <= names
    by_stage = {(r.group, r.reason): r.leads for r in report.rows if r.dimension == "stage"}
    assert by_stage == {("Marketing qualified", "no_budget"): 1, ("New", "no_budget"): 1, ("New", "not_a_fit"): 1,
                        ("New", UNSPECIFIED): 2}
    by_source = {(r.group, r.reason): (r.leads, r.share_pct) for r in report.rows if r.dimension == "source"}
    assert by_source[("web", "no_budget")] == (2, 100.0)
    assert by_source[("fair", UNSPECIFIED)] == (2, 66.7)
    by_owner = {(r.group, r.reason): r.leads for r in report.rows if r.dimension == "owner"}
    assert by_owner[("(none)", UNSPECIFIED)] == 1 and by_owner[("bo", "not_a_fit")] == 1


def test_custom_catalogue(store):
    catalogue = StagesConfig(lost_reasons=[{"name": "price", "label": "Too pricey", "aliases": ["no_budget"]}])
    _fixture(store)
    report = lost_report(store, DEFAULT_STAGES, catalogue, LeadFilter())
    assert {r.reason for r in report.rows if r.dimension == "reason"} == {"price", UNSPECIFIED}
    with pytest.raises(Exception, match="lost reason"):
        StagesConfig(lost_reasons=[{"name": "a"}, {"name": "b", "aliases": ["A"]}])


def test_leads_stage_lost_takes_a_catalogue_reason(store, db_url, run_cli, tmp_path):
    with store.begin() as conn:
        lead = add_lead(conn, email="a@example.com")
    rules = write_rules(tmp_path / "rules", stages="version: 1\n")

    def go(*args):
        return run_cli("--db", db_url, "--rules", rules, "--now", "2026-03-01T12:00", "leads", "stage", *args)

    res = go(str(lead), "lost", "--reason", "too pricy")
    assert res.exit_code == 2
    assert "unknown lost reason 'too pricy'" in res.output and "no_budget, no_decision_maker" in res.output
    res = go(str(lead), "lost", "--reason", "Chose a competitor")
    assert res.exit_code == 0, res.output
    with store.connect() as conn:
        assert conn.execute(select(Lead.__table__.c.lost_reason)).scalar_one() == "chose_competitor"
    res = go(str(lead), "new", "--force", "--reason", "they came back, any text goes")
    assert res.exit_code == 0, res.output
    with store.connect() as conn:
        assert conn.execute(select(Lead.__table__.c.lost_reason)).scalar_one() is None


def test_rules_check_refuses_an_unknown_lost_reason(run_cli, tmp_path):
    rules = write_rules(tmp_path / "rules", qualification="""
        version: 1
        stages:
          - to: lost
            when: {score: {lt: 5}}
            lost_reason: no_budgett
          - to: sql
            when: {score: {gte: 90}}
            lost_reason: no_budget
        """)
    res = run_cli("--rules", rules, "rules", "check")
    assert res.exit_code == 2
    assert "unknown lost reason 'no_budgett'" in res.output and "did you mean 'no_budget'" in res.output
    assert "'sql' is not one" in res.output


def test_a_rule_keeps_its_lost_reason(store, db_url, run_cli, tmp_path):
    rules = write_rules(tmp_path / "rules", qualification="""
        version: 1
        stages:
          - to: lost
            name: cold
            when: {score: {lt: 5}}
            lost_reason: No response
            reason: nobody answers
        """)
    with store.begin() as conn:
        add_lead(conn, email="b@example.com")
    res = run_cli("--db", db_url, "--rules", rules, "--now", "2026-03-01T12:00", "process")
    assert res.exit_code == 0, res.output
    report = lost_report(store, DEFAULT_STAGES, catalogue_of(None), LeadFilter())
    assert [(r.reason, r.leads) for r in report.rows if r.dimension == "reason"] == [("no_response", 1)]


def test_cli_report_lost(store, db_url, run, tmp_path):
    import xml.etree.ElementTree as ET

    _fixture(store)
    res = run(db_url, "report", "lost", "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    rows = doc["rows"]
    assert doc["totals"] == {"lost": 5}
    assert list(rows[0]) == ["dimension", "group", "reason", "reason_label", "leads", "share_pct"]
    assert sum(r["leads"] for r in rows if r["dimension"] == "reason") == 5
    svg, page = tmp_path / "l.svg", tmp_path / "l.html"
    res = run(db_url, "report", "lost", "--svg", str(svg), "--html", str(page))
    assert res.exit_code == 0, res.output
    assert "No budget" in res.output and "Unspecified" in res.output
    text = svg.read_text()
    ET.fromstring(text)
    assert "No budget" in text and "Marketing qualified" in text
    assert "Not a fit" in page.read_text()


def test_an_import_column_sets_the_lost_reason(store, db_url, run_cli, tmp_path):
    from conftest import write_csv

    rules = write_rules(tmp_path / "rules", stages="version: 1\n")
    leads = write_csv(tmp_path / "opps.csv", ["Email", "Status", "Loss Reason"],
                      [["a@example.com", "Closed - Not Converted", "Too expensive"],
                       ["b@example.com", "Lost", "Lost to competitor"],
                       ["c@example.com", "Lost", "the moon was full"],
                       ["d@example.com", "New", ""]])
    res = run_cli("--db", db_url, "--rules", rules, "--now", "2026-03-01T12:00", "import", leads, "--no-process")
    assert res.exit_code == 0, res.output
    with store.connect() as conn:
        stored = dict(conn.execute(select(Lead.__table__.c.email, Lead.__table__.c.lost_reason)).all())
    assert stored["a@example.com"] == "Too expensive" and stored["c@example.com"] == "the moon was full"
    report = lost_report(store, DEFAULT_STAGES, CATALOGUE, LeadFilter())
    assert {r.reason: r.leads for r in report.rows if r.dimension == "reason"} == \
        {"no_budget": 1, "chose_competitor": 1, UNSPECIFIED: 1}
