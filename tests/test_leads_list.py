from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert

from leadctl.clock import parse_when
from leadctl.engine.leadquery import LeadFilter, select_leads
from leadctl.errors import UsageError
from leadctl.store.models import Lead

D = datetime(2026, 1, 10)


def fill(store, n=60):
    with store.begin() as conn:
        conn.execute(insert(Lead.__table__), [
            dict(email=f"p{i}@ex.com", first_name="Ann" if i % 2 else "Bob", last_name=f"L{i}",
                 company="100% Widgets_Co" if i == 7 else f"Co {i}", source="Webinar" if i % 3 else "Referral",
                 stage="mql" if i % 4 == 0 else "new", score=i, owner="dana" if i % 5 == 0 else None,
                 created_at=D + timedelta(days=i), updated_at=D)
            for i in range(1, n + 1)])


def ids(store, flt):
    with store.connect() as conn:
        return [r.id for r in conn.execute(select_leads(flt))]


def test_filters(store):
    fill(store)
    assert ids(store, LeadFilter(stage="MQL", owner="dana")) == [20, 40, 60]
    assert ids(store, LeadFilter(min_score=58)) == [58, 59, 60]
    assert ids(store, LeadFilter(max_score=2, source="webinar")) == [1, 2]
    assert ids(store, LeadFilter(search="% widgets_")) == [7]  # wildcards are literal
    assert ids(store, LeadFilter(search="P3@EX")) == [3]
    assert ids(store, LeadFilter(search="co 5")) == [5, *range(50, 60)]
    assert ids(store, LeadFilter(since=D + timedelta(days=59))) == [59, 60]
    assert ids(store, LeadFilter(until=parse_when("2026-01-12", "--until", end=True))) == [1, 2]
    assert ids(store, LeadFilter(sort="-score", limit=3)) == [60, 59, 58]
    assert ids(store, LeadFilter(sort="first_name,-score", limit=2)) == [59, 57]


def test_unknown_sort_field_is_a_usage_error():
    with pytest.raises(UsageError) as err:
        select_leads(LeadFilter(sort="scor"))
    assert "did you mean 'score'" in err.value.message and "created_at" in err.value.hint


@pytest.fixture
def run(run_cli):
    """`leadctl --db … leads list …` through `main()`."""
    return lambda db_url, *args: run_cli("--db", db_url, "leads", "list", *args, env={"LEADCTL_WIDTH": "120"})


def test_cli_list(store, db_url, run):
    fill(store)
    res = run(db_url)
    assert res.exit_code == 0, res.output
    assert "50 leads" in res.output and "L60" in res.output
    res = run(db_url, "--format", "json")
    rows = json.loads(res.stdout)
    assert len(rows) == 60  # no default limit for scripts
    assert list(rows[0]) == ["id", "name", "email", "company", "source", "stage", "score", "predicted", "grade",
                             "temperature", "owner", "created"]
    assert rows[0]["predicted"] is None  # always there, null without a model's chance
    assert rows[0]["id"] == 60 and rows[0]["name"] == "Bob L60"
    res = run(db_url, "--format", "csv", "--stage", "mql", "--sort", "score", "--limit", "2")
    assert res.stdout.splitlines()[1].startswith("4,Bob L4,p4@ex.com")
    assert run(db_url, "--sort", "nope").exit_code != 0
    assert run(db_url, "--format", "xml").exit_code == 2


def test_the_predicted_chance_is_shown_when_sorted_by_it_or_a_model_exists(store, db_url, tmp_path, run_cli):
    with store.begin() as conn:
        conn.execute(insert(Lead.__table__), [
            dict(email=f"p{i}@ex.com", predicted=p, created_at=D, updated_at=D)
            for i, p in enumerate((0.634, 0.05, None))])
    rules = tmp_path / "rules"
    rules.mkdir()

    def run(db_url, *args):
        return run_cli("--db", db_url, "--rules", rules, "leads", "list", *args, env={"LEADCTL_WIDTH": "120"})

    plain = run(db_url)
    assert plain.code == 0, plain.err
    assert "Predicted" not in plain.out  # no model, not sorted by it: no empty column
    by_chance = run(db_url, "--sort", "-predicted")
    assert by_chance.code == 0, by_chance.err
    assert "Predicted" in by_chance.out
    lines = [line for line in by_chance.out.splitlines() if "@ex.com" in line]
    assert ["p0@" in lines[0], "63%" in lines[0], "p1@" in lines[1], "5%" in lines[1]] == [True] * 4
    (rules / "model.yaml").write_text("intercept: 0\n", encoding="utf-8")
    with_model = run(db_url)
    assert "Predicted" in with_model.out and "63%" in with_model.out
    rows = json.loads(run(db_url, "--sort", "-predicted", "--format", "json").out)
    assert [r["predicted"] for r in rows] == [0.634, 0.05, None]


def test_mine_lists_the_owner_named_by_leadctl_owner(tmp_path, monkeypatch, run):
    from datetime import datetime

    from leadctl.store.db import open_store
    from leadctl.store.models import Lead

    db = str(tmp_path / "m.db")
    store = open_store(db)
    now = datetime(2026, 11, 20)
    with store.begin() as conn:
        conn.execute(Lead.__table__.insert(), [
            {"email": "a@example.com", "owner": "dana", "created_at": now, "updated_at": now},
            {"email": "b@example.com", "owner": "lee", "created_at": now, "updated_at": now}])
    store.dispose()
    monkeypatch.setenv("LEADCTL_OWNER", "dana")
    out = run(db, "--mine", "--format", "json").out
    assert [r["email"] for r in __import__("json").loads(out)] == ["a@example.com"]
