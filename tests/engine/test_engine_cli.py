"""CLI wiring of process, rules check/diff, leads explain/stage; scoring on a real CRM export."""
from __future__ import annotations

import csv
import json
import textwrap
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from leadctl.engine.process import process_leads
from leadctl.rules.loader import load_rules
from leadctl.store.models import Lead

NOW = datetime(2026, 11, 20, 10, 0)
LEADS = Lead.__table__

RULES = {
    "scoring.yaml": """
        fit:
          rules:
            - {name: CEO, when: {title: CEO}, points: 50}
        total: {max: 100}
        """,
    "qualification.yaml": """
        temperature:
          - {name: hot, when: {score: {gte: 50}}}
          - {name: cold}
        stages:
          - {to: mql, when: {score: {gte: 50}}}
        """,
}


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


@pytest.fixture
def cli(run_cli, db_url):
    """`cli(rules, "process", …)`: `leadctl --db … --rules RULES --now … process …` through `main()`."""
    return lambda rules, *args: run_cli("--db", db_url, "--rules", rules, "--now", "2026-11-20T10:00", *args)


def test_rules_check_exit_codes(tmp_path, cli):
    good = write(tmp_path / "good", RULES)
    result = cli(good, "rules", "check")
    assert result.exit_code == 0, result.output
    assert "1 scoring rule" in result.output
    bad = write(tmp_path / "bad", {
        "scoring.yaml": """
            fit:
              rules:
                - {name: A, when: {title: {greater: 3}}, points: 5}
                - {name: B, points: 5, colour: red}
            """,
    })
    result = cli(good, "rules", "check", str(bad))
    assert result.exit_code == 2
    assert "scoring.yaml:4:" in result.output and "did you mean 'gt'" in result.output
    assert "colour" in result.output


def test_process_explain_stage_and_diff(store, cli, tmp_path):
    rules = write(tmp_path / "rules", RULES)
    with store.begin() as conn:
        conn.execute(LEADS.insert(), [
            {"email": "boss@acme.com", "title": "CEO", "created_at": NOW, "updated_at": NOW, "stage": "new"},
            {"email": "dev@acme.com", "title": "Engineer", "created_at": NOW, "updated_at": NOW, "stage": "new"},
        ])
    result = cli(rules, "process", "--format", "json")
    assert result.exit_code == 0, result.output
    counts = json.loads(result.out)
    assert counts["leads"] == 2 and counts["stage_changes"] == 1
    result = cli(rules, "process")
    assert result.exit_code == 0 and "0 scores changed, 0 stage changes" in result.output

    result = cli(rules, "leads", "explain", "BOSS@acme.com", "--format", "json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.out)
    assert info["score"]["score"] == 50 and info["score"]["fit"] == [{"rule": "CEO", "points": 50}]
    assert list(info) == ["lead", "score", "temperature", "stage", "stage_history", "assignments", "followups",
                          "activity"]
    result = cli(rules, "leads", "explain", "boss@acme.com")
    assert result.exit_code == 0 and "CEO" in result.output and "to mql" in result.output

    result = cli(rules, "leads", "stage", "boss@acme.com", "new")
    assert result.code == 2 and "--force" in result.err
    result = cli(rules, "leads", "stage", "boss@acme.com", "new", "--force", "--reason", "test")
    assert result.exit_code == 0 and "mql → new" in result.output
    result = cli(rules, "leads", "explain", "nobody@acme.com")
    assert result.code == 1 and "no lead" in result.err

    new = write(tmp_path / "new", {**RULES, "scoring.yaml": RULES["scoring.yaml"].replace("CEO", "Engineer")})
    result = cli(rules, "rules", "diff", str(new), "--format", "json")
    assert result.exit_code == 0, result.output
    diff = json.loads(result.out)
    assert diff["leads"] == 2 and diff["changed"] == 2
    assert {(t["from"], t["to"]) for t in diff["transitions"]["score_band"]} == {("50-59", "0-9"), ("0-9", "50-59")}
    result = cli(rules, "rules", "diff", str(new))
    assert result.exit_code == 0 and "2 of 2 leads would change" in result.output


# ---------------------------------------------------------------- a real CRM export
REAL_SCORING = """
fit:
  max: 40
  rules:
    - {name: Pro products, when: {attributes.product: [GTXPro, GTX Plus Pro, GTK 500]}, points: 25}
    - {name: Big deal, when: {attributes.close_value: {gte: 3000}}, points: 20}
    - {name: Budget product, when: {attributes.product: {starts_with: MG}}, points: -10}
engagement:
  max: 30
  rules:
    - {name: Has agent, when: {attributes.sales_agent: {exists: true}}, points: 5}
    - {name: Named account, when: {company: {exists: true}}, points: 10}
total: {min: 0, max: 60}
grades:
  fit: {A: 30, B: 10, C: 0}
  engagement: {"1": 15, "2": 0}
"""
STAGE_OF = {"Won": "customer", "Lost": "lost", "Engaging": "sql", "Prospecting": "new"}


def _expected(row: dict) -> tuple[int, str]:
    """The same rules, computed independently of the engine."""
    product, value = row["product"], row["close_value"]
    fit = 0
    if product in ("GTXPro", "GTX Plus Pro", "GTK 500"):
        fit += 25
    if value not in ("", None) and float(value) >= 3000:
        fit += 20
    if product.lower().startswith("mg"):
        fit -= 10
    fit = min(fit, 40)
    eng = (5 if row["sales_agent"].strip() else 0) + (10 if row["account"].strip() else 0)
    eng = min(eng, 30)
    score = max(0, min(60, fit + eng))
    letter = "A" if fit >= 30 else "B" if fit >= 10 else "C"
    digit = "1" if eng >= 15 else "2"
    return score, letter + digit


def test_scoring_a_real_sales_pipeline(store, shared_data, tmp_path):
    path = shared_data / "real" / "maven-crm-sales-opportunities" / "sales_pipeline.csv"
    if not path.exists():
        pytest.skip("sales_pipeline.csv is not present")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    leads = []
    for r in rows:
        created = datetime.fromisoformat(r["engage_date"]) if r["engage_date"] else NOW
        attrs = {"product": r["product"], "sales_agent": r["sales_agent"] or None,
                 "close_value": r["close_value"] or None}
        leads.append({"external_id": r["opportunity_id"], "company": r["account"] or None,
                      "stage": STAGE_OF.get(r["deal_stage"], "new"), "created_at": created, "updated_at": created,
                      "attributes": attrs})
    with store.begin() as conn:
        conn.execute(LEADS.insert(), leads)
    rules = load_rules(write(tmp_path / "rules", {"scoring.yaml": REAL_SCORING}))
    result = process_leads(store, rules, now=NOW, steps=[])
    assert result.leads == len(rows) > 8000
    with store.connect() as conn:
        got = {r.external_id: (r.score, r.grade, r.stage) for r in
               conn.execute(select(LEADS.c.external_id, LEADS.c.score, LEADS.c.grade, LEADS.c.stage))}
    wrong = [(r["opportunity_id"], got[r["opportunity_id"]][:2], _expected(r)) for r in rows
             if got[r["opportunity_id"]][:2] != _expected(r)]
    assert not wrong, wrong[:5]
    assert got[rows[0]["opportunity_id"]][2] == STAGE_OF[rows[0]["deal_stage"]]   # no stage rules: untouched
    assert process_leads(store, rules, now=NOW, steps=[]).counts.get("updated", 0) == 0
