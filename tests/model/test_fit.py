"""`model fit` on generated leads with a known logistic ground truth, the leakage guard, the
small-data refusal, and `process` applying model.yaml exactly as scikit-learn predicts."""
from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta

import pytest
import yaml

from conftest import add_leads

pytest.importorskip("sklearn")

NOW = datetime(2026, 11, 20, 10, 0)
START = datetime(2024, 1, 1)
SOURCES = {"Webinar": 1.6, "Referral": 0.6, "Ads": 0.0, "Cold call": -1.2}
PRODUCTS = {"pro": 0.9, "basic": -0.4}


def truth(source: str, employees: int | None, product: str, demos: int, free_mail: bool = False) -> float:
    """The ground-truth log-odds the generated outcomes follow."""
    z = -1.0 + SOURCES[source] + PRODUCTS[product] + 0.7 * demos - (0.6 if free_mail else 0.0)
    if employees is not None and employees >= 200:
        z += 0.8
    return z


def generate(store, n: int, *, seed: int = 7, closed: bool = True, leak: bool = True) -> list[dict]:
    """`n` leads created over two years; closed ones won or lost by `truth` thirty days later."""
    from leadctl.store.models import Activity, Lead

    rnd = random.Random(seed)
    rows, acts, people = [], [], []
    for i in range(n):
        created = START + timedelta(hours=i * (24 * 600 // n))
        source = rnd.choice(list(SOURCES))
        employees = None if rnd.random() < 0.1 else int(rnd.lognormvariate(4.5, 1.2))
        product = rnd.choice(list(PRODUCTS))
        demos = rnd.choice([0, 0, 1, 1, 2, 3])
        free_mail = rnd.random() < 0.3
        p = 1 / (1 + math.exp(-truth(source, employees, product, demos, free_mail)))
        won = rnd.random() < p
        outcome = created + timedelta(days=30)
        stage = ("customer" if won else "lost") if closed else "new"
        rows.append({"created_at": created, "updated_at": outcome, "stage": stage,
                     "stage_changed_at": outcome if closed else None, "source": source, "employees": employees,
                     "industry": rnd.choice(["Retail", "Software", "Health"]),
                     "email": f"p{i}@example.com", "flags": "free_mail phone_mobile" if free_mail else None,
                     # a status a salesperson sets after talking to the lead: separates won from lost
                     "attributes": {"product": product, "status": ("closing" if won else "dead") if leak else None}})
        people.append({"p": p, "won": won, "created": created, "source": source, "employees": employees,
                       "product": product, "demos": demos, "free_mail": free_mail})
    with store.begin() as conn:
        ids = [r[0] for r in conn.execute(Lead.__table__.insert().returning(Lead.__table__.c.id,
                                                                            sort_by_parameter_order=True), rows)]
    for lead_id, person, row in zip(ids, people, rows):
        person["id"] = lead_id
        for k in range(person["demos"]):
            acts.append({"lead_id": lead_id, "type": "demo", "at": row["created_at"] + timedelta(days=1 + k)})
        if closed and person["won"] and leak:
            # dated after the outcome: known only once the deal is won
            signed = row["stage_changed_at"] + timedelta(days=2)
            acts.append({"lead_id": lead_id, "type": "contract_signed", "at": signed})
    with store.begin() as conn:
        conn.execute(Activity.__table__.insert(), acts)
    return people


@pytest.fixture
def rules_dir(tmp_path):
    d = tmp_path / "rules"
    d.mkdir()
    return d


def fit(run_cli, db_url, rules_dir, *args):
    return run_cli("--db", db_url, "--rules", rules_dir, "--now", NOW.isoformat(), "model", "fit", *args)


def test_recovers_the_ground_truth_weights_and_ranks_the_held_out_leads(store, db_url, rules_dir, run_cli, capsys):
    from leadctl.model import load_model
    from leadctl.model.metrics import auc

    people = generate(store, 4000)
    r = fit(run_cli, db_url, rules_dir, "--after-contact", "attributes.status")
    assert r.code == 0, r.err
    model = load_model(rules_dir)
    assert model is not None
    by = {f.name: f for f in model.features}
    src = by["source"].weights
    # signs and order as generated: Webinar > Referral > Ads > Cold call
    assert src["Webinar"] > src["Referral"] > src["Ads"] > src["Cold call"]
    assert by["attributes.product"].weights["pro"] > by["attributes.product"].weights["basic"]
    demo = by["activity.demo.count"]
    assert demo.weight(3) > demo.weight(1) > demo.weight(0)
    emp = by["employees"]
    assert emp.weight(1000) > emp.weight(20)
    assert by["flags.free_mail"].weight(True) < by["flags.free_mail"].weight(False)  # a data-quality flag
    # held-out AUC close to what the true probabilities achieve on the same leads
    v = model.info["validation"]
    cut = datetime.fromisoformat(v["holdout_from"])
    held = [p for p in people if p["created"] >= cut]
    oracle = auc([int(p["won"]) for p in held], [p["p"] for p in held])
    assert oracle is not None
    with capsys.disabled():
        print(f"\ngenerated leads: {r.out}held-out AUC of the true probabilities {oracle:.4f}")
    assert v["model"]["auc"] >= oracle - 0.03
    assert len(v["model"]["calibration"]) == 10
    # calibrated: the mean predicted and actual won rates over the held-out leads agree
    cal = v["model"]["calibration"]
    mean_pred = sum(c["predicted"] * c["leads"] for c in cal) / sum(c["leads"] for c in cal)
    mean_act = sum(c["actual"] * c["leads"] for c in cal) / sum(c["leads"] for c in cal)
    assert abs(mean_pred - mean_act) < 0.06
    assert set(v["model"]["lift"]) == {"top_10", "top_20", "top_30"}
    # the leakage guard: the declared field and the activity known only after the outcome are refused
    left = {x["fact"]: x["reason"] for x in model.info["left_out"]}
    assert left["attributes.status"].startswith("refused: declared after_contact")
    assert left["activity.contract_signed.*"].startswith("refused:") and "after the lead's outcome" in left[
        "activity.contract_signed.*"]
    assert "contract_signed" not in " ".join(model.facts)
    assert "attributes.status" in r.out and "refused" in r.out
    # the declaration is kept in the file, so the next fit refuses it too
    assert model.info["after_contact"] == ["attributes.status"]
    assert "rules/model.yaml" not in r.err
    check = run_cli("rules", "check", rules_dir)
    assert check.code == 0, check.out + check.err


def test_a_field_that_alone_separates_won_from_lost_is_warned_about(store, db_url, rules_dir, run_cli):
    generate(store, 1500)
    r = fit(run_cli, db_url, rules_dir, "--format", "json")
    assert r.code == 0, r.err
    assert "warning: attributes.status alone separates won from lost" in r.err
    data = json.loads(r.out)
    assert data["validation"]["single_fact_auc"]["attributes.status"] > 0.95


def test_too_few_outcomes_are_refused_with_the_counts(store, db_url, rules_dir, run_cli):
    generate(store, 60)
    r = fit(run_cli, db_url, rules_dir)
    assert r.code == 1
    assert "too few leads with an outcome" in r.err and "at least 50 of each" in r.err
    assert not (rules_dir / "model.yaml").exists()


def test_process_applies_the_file_exactly_as_scikit_learn_predicts(store, db_url, rules_dir, run_cli):
    from sqlalchemy import select

    from leadctl.model.fit import Example, FitOptions, design, fit_model
    from leadctl.model.model import dump_model
    from leadctl.rules.loader import load_rules
    from leadctl.store.models import Lead

    generate(store, 1500, leak=False)
    result = fit_model(store, load_rules(rules_dir), now=NOW, options=FitOptions())
    dump_model(result.model, str(rules_dir / "model.yaml"))
    open_leads = generate(store, 300, seed=11, closed=False, leak=False)
    r = run_cli("--db", db_url, "--rules", rules_dir, "--now", NOW.isoformat(), "process")
    assert r.code == 0, r.err
    ids = [p["id"] for p in open_leads]
    with store.connect() as conn:
        rows = {row.id: row for row in conn.execute(
            select(Lead.__table__.c.id, Lead.__table__.c.predicted, Lead.__table__.c.industry)
            .where(Lead.__table__.c.id.in_(ids)))}
    examples = []
    for p in open_leads:
        last_demo = p["created"] + timedelta(days=p["demos"]) if p["demos"] else None
        facts = {"source": p["source"], "employees": p["employees"], "industry": rows[p["id"]].industry,
                 "do_not_contact": False, "attributes.product": p["product"],
                 "flags.free_mail": p["free_mail"], "flags.phone_mobile": p["free_mail"],
                 "activity.demo.count": p["demos"],
                 "activity.demo.days_since": (NOW - last_demo).days if last_demo else None}
        examples.append(Example(p["id"], 0, p["created"], NOW, facts))
    expected = result.clf.predict_proba(design(examples, result.features))[:, 1]
    got = [rows[p["id"]].predicted for p in open_leads]
    assert all(g is not None for g in got)
    assert max(abs(g - e) for g, e in zip(got, expected)) < 1e-9
    # a second run with the same model and clock changes nothing
    again = run_cli("--db", db_url, "--rules", rules_dir, "--now", NOW.isoformat(), "process", "--format", "json")
    assert json.loads(again.out).get("predictions_changed", 0) == 0


def test_conditions_sorting_and_explain_read_the_prediction(store, db_url, rules_dir, run_cli):
    from sqlalchemy import select

    from leadctl.model.fit import FitOptions, fit_model
    from leadctl.model.model import dump_model
    from leadctl.rules.loader import load_rules
    from leadctl.store.models import Lead

    generate(store, 1500, leak=False)
    dump_model(fit_model(store, load_rules(rules_dir), now=NOW, options=FitOptions()).model,
               str(rules_dir / "model.yaml"))
    (rules_dir / "qualification.yaml").write_text(yaml.safe_dump({"version": 1, "stages": [
        {"to": "sql", "name": "Likely to close", "when": {"predicted": {"gte": 0.6}}}]}), encoding="utf-8")
    hot, cold = add_leads(store, 1, source="Webinar", employees=500, attributes={"product": "pro"})[0], \
        add_leads(store, 1, source="Cold call", employees=5, attributes={"product": "basic"})[0]
    r = run_cli("--db", db_url, "--rules", rules_dir, "--now", NOW.isoformat(), "process")
    assert r.code == 0, r.err
    r = run_cli("--db", db_url, "--rules", rules_dir, "leads", "list", "--sort", "-predicted",
                "--since", "2026-11-01", "--format", "json")
    assert r.code == 0, r.err
    listed = json.loads(r.out)
    ids = [row["id"] for row in listed]
    assert ids.index(hot) < ids.index(cold)
    by_id = {row["id"]: row for row in listed}
    with store.connect() as conn:
        predicted = dict(conn.execute(select(Lead.__table__.c.id, Lead.__table__.c.predicted)
                                      .where(Lead.__table__.c.id.in_([hot, cold]))).all())
    # qualification read this run's prediction
    assert by_id[hot]["stage"] == "sql" and predicted[hot] >= 0.6
    assert by_id[cold]["stage"] == "new" and predicted[cold] < 0.6
    r = run_cli("--db", db_url, "--rules", rules_dir, "--now", NOW.isoformat(), "leads", "explain", str(hot),
                "--format", "json")
    assert r.code == 0, r.err
    pred = json.loads(r.out)["predicted"]
    assert pred["probability"] == pytest.approx(predicted[hot])
    up = [f["fact"] for f in pred["up"]]
    assert "source" in up and all(f["weight"] > 0 for f in pred["up"])
    assert all(f["weight"] < 0 for f in pred["down"])
    assert any("raises the odds of winning" in f["words"] for f in pred["up"])
    text = run_cli("--db", db_url, "--rules", rules_dir, "--now", NOW.isoformat(), "leads", "explain", str(hot))
    assert "chance of winning" in text.out and "+ source is Webinar: raises the odds" in text.out


def test_report_scoring_shows_the_model_beside_the_hand_written_score(store, db_url, rules_dir, run_cli):
    r = run_cli("--db", db_url, "--rules", rules_dir, "report", "scoring", "--model")
    assert r.code == 1 and "no model in" in r.err and "model fit" in r.err
    generate(store, 1500, leak=False)
    assert fit(run_cli, db_url, rules_dir).code == 0
    r = run_cli("--db", db_url, "--rules", rules_dir, "report", "scoring", "--model", "--format", "json")
    assert r.code == 0, r.err
    rows = {row["figure"]: row for row in json.loads(r.out)["rows"]}
    assert rows["AUC"]["model"] > 0.7 and rows["AUC"]["score"] == 0.5  # no scoring rules: every score is 0
    assert rows["log loss"]["model"] > 0 and rows["log loss"]["score"] is None
    assert [f"decile {k}" in rows for k in range(1, 11)] == [True] * 10
    assert rows["decile 10"]["model"] > rows["decile 1"]["model"]
    assert rows["held-out leads"]["model"] == rows["held-out leads"]["score"] == 300
    table = run_cli("--db", db_url, "--rules", rules_dir, "report", "scoring", "--model")
    assert table.code == 0 and "hand-written score" in table.out and "AUC" in table.out


def test_a_new_model_reaches_every_lead_on_the_next_process(store, db_url, rules_dir, run_cli):
    """Same clock, same rule files, a changed model.yaml: no lead keeps the old chance."""
    from sqlalchemy import select

    from leadctl.store.models import Lead

    generate(store, 600, leak=False)
    assert fit(run_cli, db_url, rules_dir, "--min-each", "20").code == 0
    run = ("--db", db_url, "--rules", rules_dir, "--now", NOW.isoformat(), "process", "--format", "json")
    assert run_cli(*run).code == 0
    assert json.loads(run_cli(*run).out).get("predictions_changed", 0) == 0
    path = rules_dir / "model.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["intercept"] += 1.0
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    assert json.loads(run_cli(*run).out)["predictions_changed"] == 600
    with store.connect() as conn:
        assert conn.execute(select(Lead.__table__.c.predicted).where(Lead.__table__.c.predicted.is_(None))).all() == []
    # no model any more: no lead keeps a chance from it
    path.unlink()
    assert json.loads(run_cli(*run).out)["predictions_cleared"] == 600
    with store.connect() as conn:
        assert conn.execute(select(Lead.__table__.c.id).where(Lead.__table__.c.predicted.is_not(None))).all() == []


def test_the_model_file_of_the_docs_loads_and_mistakes_name_the_feature(tmp_path, run_cli):
    import re

    from leadctl.model.model import parse_model

    from conftest import REPO

    text = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    block = re.search(r"^```yml\n(# rules/model\.yaml\n.*?)^```", text, re.DOTALL | re.MULTILINE).group(1)
    model = parse_model(yaml.safe_load(block))
    assert model.facts == ["source", "employees"]
    assert model.probability({"source": "Webinar", "employees": 800}) == pytest.approx(
        1 / (1 + math.exp(-(-0.85 + 1.21 + 0.52))))
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "model.yaml").write_text(block, encoding="utf-8")
    assert run_cli("rules", "check", folder).code == 0
    broken = block.replace("weight: 1.21", "weight: high").replace("{from: 500,", "{from: 400,")
    broken = broken.replace("after_contact:", "  - {name: attributes.rating, type: category}\nafter_contact:")
    (folder / "model.yaml").write_text(broken, encoding="utf-8")
    r = run_cli("rules", "check", folder)
    assert r.code == 2
    assert "features[0] (source) value 'Webinar': a weight must be a finite number, not 'high'" in r.out
    assert "features[1] (employees) bins[2]: `from` must equal the previous bin's `below` (500)" in r.out
    assert "features[2] (attributes.rating): declared after_contact" in r.out


def test_rules_diff_shows_what_a_new_model_would_move(store, db_url, rules_dir, run_cli, tmp_path):
    import shutil

    generate(store, 800, leak=False)
    (rules_dir / "qualification.yaml").write_text(yaml.safe_dump({"version": 1, "stages": [
        {"to": "sql", "name": "Likely to close", "when": {"predicted": {"gte": 0.6}}}]}), encoding="utf-8")
    add_leads(store, 20, source="Webinar", employees=500, attributes={"product": "pro"})
    run = ("--db", db_url, "--now", NOW.isoformat())
    assert run_cli(*run, "--rules", rules_dir, "process").code == 0  # no model yet: nobody moves
    new = tmp_path / "new-rules"
    shutil.copytree(rules_dir, new)
    assert fit(run_cli, db_url, new).code == 0
    r = run_cli(*run, "--rules", rules_dir, "rules", "diff", new, "--format", "json")
    assert r.code == 0, r.err
    stage = json.loads(r.out)["transitions"]["stage"]
    assert {"from": "new", "to": "sql"} in [{"from": t["from"], "to": t["to"]} for t in stage]
    assert sum(t["count"] for t in stage if t["to"] == "sql") >= 20


def test_a_column_the_mapping_marks_after_contact_is_refused(store, db_url, rules_dir, run_cli, tmp_path):
    generate(store, 1000)
    mapping = tmp_path / "deals.mapping.yaml"
    mapping.write_text("columns:\n  Deal ID: external_id\n"
                       "  Status: {field: attributes.status, after_contact: true}\n", encoding="utf-8")
    r = fit(run_cli, db_url, rules_dir, "--mapping", mapping, "--format", "json")
    assert r.code == 0, r.err
    left = {x["fact"]: x["reason"] for x in json.loads(r.out)["left_out"]}
    assert left["attributes.status"].startswith("refused: declared after_contact")
    assert "attributes.status" not in json.loads(r.out)["features"]
    # the importer reads the same file (after_contact changes nothing there)
    data = tmp_path / "deals.csv"
    data.write_text("Deal ID,Status\nD-1,closing\n", encoding="utf-8")
    imp = run_cli("--db", db_url, "--rules", rules_dir, "import", data, "--mapping", mapping, "--no-process")
    assert imp.code == 0, imp.err
    mapping.write_text("columns:\n  Status: {field: attributes.status, after_contact: maybe}\n", encoding="utf-8")
    bad = fit(run_cli, db_url, rules_dir, "--mapping", mapping)
    assert bad.code == 2 and "after_contact is true or false" in bad.err


def test_without_scikit_learn_fit_says_which_extra_to_install(store, db_url, rules_dir, run_cli, monkeypatch):
    import sys

    generate(store, 300, leak=False)
    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if the extra were not installed
    monkeypatch.setitem(sys.modules, "sklearn.linear_model", None)
    r = fit(run_cli, db_url, rules_dir, "--min-each", "20")
    assert r.code == 1
    assert "error: fitting a model needs scikit-learn" in r.err and "leadctl[model]" in r.err
    assert not (rules_dir / "model.yaml").exists()
