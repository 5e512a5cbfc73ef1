"""`model fit` says in plain words whether its held-out AUC makes the model worth ranking leads with."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from leadctl.model.metrics import verdict

from conftest import add_lead

NOW = datetime(2026, 11, 20, 10, 0)


@pytest.mark.parametrize("auc, expected", [
    (0.5, "barely better than chance: do not use it to rank leads"),
    (0.599, "barely better than chance: do not use it to rank leads"),
    (0.6, "weak"), (0.749, "weak"), (0.75, "useful"), (0.899, "useful"), (0.9, "strong"), (1.0, "strong")])
def test_the_verdict_follows_the_auc(auc, expected):
    assert verdict(auc).split(":")[0] == expected.split(":")[0]
    assert verdict(auc).startswith(expected)


def test_no_auc_gives_no_verdict():
    assert verdict(None) is None


def test_a_model_no_better_than_chance_is_called_so(store, db_url, tmp_path, run_cli):
    pytest.importorskip("sklearn")
    start = datetime(2025, 1, 1)
    for i in range(240):  # won on every other lead, whatever the source: nothing to learn
        created = start + timedelta(days=i)
        won = i % 2 == 0
        add_lead(store, at=created, email=f"p{i}@example.com", source=("Web", "Fair", "Ads")[i % 3],
                 stage="customer" if won else "lost", stage_changed_at=created + timedelta(days=10))
    rules = tmp_path / "rules"
    rules.mkdir()
    base = ("--db", db_url, "--rules", str(rules), "--now", NOW.isoformat(), "model", "fit", "--dry-run")
    text = run_cli(*base)
    assert text.code == 0, text.err
    assert "verdict: barely better than chance: do not use it to rank leads" in text.out
    as_json = run_cli(*base, "--format", "json")
    assert as_json.code == 0, as_json.err
    data = json.loads(as_json.out)
    assert data["validation"]["model"]["auc"] < 0.6
    assert data["verdict"] == "barely better than chance: do not use it to rank leads"
