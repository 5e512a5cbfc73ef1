"""Routing end to end: through `process_leads` and the `owners list` / `leads assign` commands."""
from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import func, select

from leadctl.engine.process import process_leads
from leadctl.rules import DEFAULT_RULES_DIR
from leadctl.rules.loader import load_rules
from leadctl.store.models import Assignment, Lead, SlaBreach

import conftest as factories

LEADS = Lead.__table__
ASSIGNMENTS = Assignment.__table__
BREACHES = SlaBreach.__table__
NOW = datetime(2026, 11, 20, 10, 0)

ROUTING = """
    owners:
      - {name: dana, email: dana@example.com, team: emea, timezone: Europe/Berlin, capacity: 40, weight: 2}
      - {name: lee, email: lee@example.com, team: emea, timezone: Europe/London, capacity: 30}
      - {name: priya, team: inbound, capacity: 5}
      - {name: marco, team: inbound, capacity: 5, away: [{from: 2026-11-20, to: 2026-11-27}]}
      - {name: queue}
    rules:
      - name: Enterprise EMEA
        when: {country: [DE, FR, GB], employees: {gte: 1000}}
        assign: {team: emea, strategy: least_loaded}
      - name: Everyone else
        when: {stage: [new, mql, sql]}
        assign: {team: inbound, strategy: round_robin}
    fallback: {owner: queue}
    sla:
      - {name: Hot leads, when: {temperature: hot}, within: 1h, then: reassign}
"""
QUALIFICATION = """
    temperature:
      - {name: hot, when: {employees: {gte: 5000}}}
      - {name: cold}
"""


def rules_dir(tmp_path):
    return factories.write_rules(tmp_path / "rules", routing=ROUTING, qualification=QUALIFICATION)


def add(store, n, **values):
    with store.begin() as conn:
        conn.execute(LEADS.insert(), [{"created_at": NOW, "updated_at": NOW, "stage": "new", **values}
                                      for _ in range(n)])


def test_process_routes_records_reasons_and_is_idempotent(store, tmp_path):
    rules = load_rules(rules_dir(tmp_path))
    add(store, 4, country="DE", employees=2000)
    add(store, 12, country="US", employees=10)
    add(store, 2, country="US", stage="customer")
    result = process_leads(store, rules, now=NOW)
    assert result.counts["assigned"] == 16
    with store.connect() as conn:
        owners = Counter(r[0] for r in conn.execute(select(LEADS.c.owner)))
        reasons = [r[0] for r in conn.execute(select(ASSIGNMENTS.c.reason).order_by(ASSIGNMENTS.c.id))]
    assert owners == Counter({"dana": 2, "lee": 2, "priya": 5, "queue": 7, None: 2})
    assert reasons[0] == "rule 'Enterprise EMEA' → team emea → least_loaded → dana (1/40 open)"
    assert reasons[-1] == ("rule 'Everyone else': nobody available in team inbound "
                           "(priya full 5/5, marco away until 2026-11-27) → fallback queue (7 open)")
    again = process_leads(store, rules, now=NOW)
    assert again.counts["assigned"] == 0 and again.counts["updated"] == 0
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ASSIGNMENTS)).scalar() == 16


def test_process_checks_sla_and_dry_run_changes_nothing(store, tmp_path):
    rules = load_rules(rules_dir(tmp_path))
    add(store, 1, country="DE", employees=9000)
    process_leads(store, rules, now=NOW)                      # hot → dana (least loaded, first)
    later = NOW + timedelta(hours=1, minutes=1)
    dry = process_leads(store, rules, now=later, dry_run=True)
    assert dry.counts["sla_reassigned"] == 1
    with store.connect() as conn:
        assert conn.execute(select(LEADS.c.owner)).scalar() == "dana"
        assert conn.execute(select(func.count()).select_from(BREACHES)).scalar() == 0
    real = process_leads(store, rules, now=later)
    assert real.counts["sla_breaches"] == 1 and real.counts["sla_reassigned"] == 1
    with store.connect() as conn:
        assert conn.execute(select(LEADS.c.owner)).scalar() == "lee"


def test_cli_owners_list_and_leads_assign(store, db_url, tmp_path, run_cli):
    d = rules_dir(tmp_path)
    add(store, 3, country="US", employees=10)
    with store.begin() as conn:
        conn.execute(LEADS.update().where(LEADS.c.id == 1).values(email="ada@example.com"))
    base = ["--db", db_url, "--rules", str(d), "--now", "2026-11-20T10:00"]
    r = run_cli(*base, "process")
    assert r.exit_code == 0, r.output
    r = run_cli(*base, "leads", "assign", "ada@example.com", "lee@example.com")
    assert r.exit_code == 0, r.output
    assert "assigned to lee (was priya)" in r.output
    r = run_cli(*base, "leads", "assign", "1", "nobody")
    assert r.code == 1 and "no owner 'nobody'" in r.err
    r = run_cli(*base, "owners", "list", "--format", "json")
    assert r.exit_code == 0, r.output
    rows = {o["name"]: o for o in json.loads(r.stdout)}
    assert rows["lee"]["load"] == "1/30" and rows["lee"]["last_assigned_at"] == "2026-11-20T10:00:00"
    assert rows["priya"]["open"] == 2 and rows["marco"]["availability"] == "away until 2026-11-27"
    assert rows["marco"]["open"] == 0 and rows["queue"]["capacity"] is None
    r = run_cli(*base, "owners", "list")
    assert r.exit_code == 0 and "dana" in r.stdout and "0/40" in r.stdout


def test_default_rules_route(store, tmp_path):
    d = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, d)
    rules = load_rules(d)
    add(store, 30, country="DE", employees=5000, phone="+4930123456")   # reachable: not disqualified
    add(store, 30, country="US", phone="+12125550100")
    result = process_leads(store, rules, now=NOW)
    assert result.counts["assigned"] == 60
    with store.connect() as conn:
        owners = Counter(r[0] for r in conn.execute(select(LEADS.c.owner)))
    assert owners["dana"] + owners["lee"] == 30 and abs(owners["dana"] - owners["lee"]) <= 1
    assert owners["priya"] + owners["marco"] + owners["aiko"] == 30


def test_a_lead_that_frees_capacity_gets_the_waiting_unassigned_lead_routed(store, tmp_path):
    """Evaluating only what changed still routes the leads left unassigned when another lead frees a slot."""
    d = factories.write_rules(tmp_path / "rules", routing="""
        owners:
          - {name: priya, team: inbound, capacity: 2}
        rules:
          - name: Everyone
            assign: {team: inbound, strategy: round_robin}
    """)
    rules = load_rules(d)
    add(store, 3, country="US")
    process_leads(store, rules, now=NOW)
    with store.connect() as conn:
        owners = dict(conn.execute(select(LEADS.c.id, LEADS.c.owner)).all())
    waiting = [i for i, o in owners.items() if o is None]
    assert len(waiting) == 1
    done = min(i for i, o in owners.items() if o == "priya")
    with store.begin() as conn:   # priya wins one: a slot is free
        conn.execute(LEADS.update().where(LEADS.c.id == done).values(stage="customer"))
    res = process_leads(store, rules, now=NOW)
    assert res.counts["unchanged_skipped"] == 1       # priya's other lead
    with store.connect() as conn:
        assert conn.execute(select(LEADS.c.owner).where(LEADS.c.id == waiting[0])).scalar() == "priya"
