"""A `process` over most of a large store sets aside the leads' indexes over the columns it writes
and builds them again at the end: what it stores equals a run with them in place, and no store is
left without them (a failed run builds them at once, a killed one's come back on the next open)."""
from __future__ import annotations

import json
import os
from datetime import datetime

import pytest
from sqlalchemy import text

from leadctl.engine import process
from leadctl.engine.process import process_leads
from leadctl.engine.routing import RoutingStep
from leadctl.store import indexes, models, stays
from leadctl.store.db import open_store
from leadctl.store.history import entered_stages, record_stage_changes

from conftest import add_leads, sqlite_only

NOW = datetime(2026, 12, 1, 10, 0)
TABLES = ("leads", "stage_history", "followups", "assignments", "lead_segments", "stage_stays")


def _corpus(store) -> None:
    titles = ["CEO", "Marketing Manager", "Intern", None, "VP Sales", "Head of Ops"]
    industries = ["SaaS", "Retail", None, "Fintech"]
    for i in range(48):
        add_leads(store, 1, email=f"p{i}@example.com", first_name=f"P{i}", title=titles[i % len(titles)],
                  industry=industries[i % len(industries)], employees=[10, 250, 5000, None][i % 4],
                  source=["web", "referral", None][i % 3], country="US",
                  stage=["new", "new", "mql", "sql"][i % 4])


def _dump(store) -> dict[str, list[tuple]]:
    with store.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY 1, 2"))] for t in TABLES}


def _index_names(store) -> set[str]:
    with store.connect() as conn:
        return {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))}


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(process, "CHUNK", 10)
    set_aside = indexes.set_aside
    seen: list[list[str]] = []

    def spy(begin, names, **kw):
        seen.append(list(names))
        return set_aside(begin, names, **kw)

    monkeypatch.setattr(indexes, "set_aside", spy)
    return seen


@sqlite_only
def test_a_run_with_the_written_indexes_set_aside_stores_what_one_with_them_stores(rules, tmp_path, monkeypatch,
                                                                                     small_chunks):
    outcomes = []
    for name, least in (("kept", 1 << 40), ("aside", 1)):
        monkeypatch.setattr(process, "SET_ASIDE_MIN", least)
        store = open_store(str(tmp_path / f"{name}.db"))
        expected = _index_names(store)
        _corpus(store)
        first = process_leads(store, rules, now=NOW)
        again = process_leads(store, rules, now=NOW)  # nothing to write: nothing set aside
        assert _index_names(store) == expected
        with store.connect() as conn:
            assert not indexes.pending(conn)
            assert stays.installed(conn)  # set aside with the indexes, back at the end
        outcomes.append((first.summary(), again.summary(), _dump(store)))
        store.dispose()
    assert len(small_chunks) == 1  # the first run of the "aside" store only
    assert {"ix_leads_facts", "ix_leads_owner_facts", "ix_leads_stage", "ix_leads_processed"} <= set(small_chunks[0])
    assert "ix_leads_email" not in small_chunks[0] and "ix_leads_created_at" not in small_chunks[0]
    assert outcomes[0] == outcomes[1]
    assert outcomes[1][2]["stage_history"]  # the corpus moves leads


def _failing_at(at: int) -> RoutingStep:
    """Routing that fails at its `at`-th chunk (counting from 1)."""
    calls = []

    class Failing(RoutingStep):
        def chunk(self, ctx, leads):
            calls.append(len(leads))
            if len(calls) == at:
                raise RuntimeError("disk full")
            super().chunk(ctx, leads)

    return Failing()


@sqlite_only
def test_a_run_that_fails_midway_builds_the_indexes_again(rules, tmp_path, monkeypatch, small_chunks):
    monkeypatch.setattr(process, "SET_ASIDE_MIN", 1)
    store = open_store(str(tmp_path / "s.db"))
    expected = _index_names(store)
    _corpus(store)
    with pytest.raises(RuntimeError):
        process_leads(store, rules, now=NOW, steps=[_failing_at(3)])
    assert small_chunks and _index_names(store) == expected
    with store.connect() as conn:
        assert not indexes.pending(conn)
    store.dispose()


@sqlite_only
def test_a_killed_runs_indexes_come_back_when_the_store_is_next_opened(tmp_path):
    db = str(tmp_path / "s.db")
    store = open_store(db)
    expected = _index_names(store)
    names = indexes.written_by(("stage", "score", "processed"))
    with store.begin() as conn:  # what a process killed midway leaves: its indexes away, a dead owner
        conn.execute(models.Meta.__table__.insert().values(key="indexes_after_load", value=json.dumps(
            {"pid": 2 ** 22 + 12345, "host": os.uname().nodename, "indexes": names, "triggers": False})))
        for name in names:
            conn.execute(text(f'DROP INDEX "{name}"'))
    assert _index_names(store) == expected - set(names)
    store.dispose()
    store = open_store(db)
    assert _index_names(store) == expected
    with store.connect() as conn:
        assert not indexes.pending(conn)
    store.dispose()


def test_stages_entered_written_with_the_lead_row_equals_the_history(rules, store, monkeypatch):
    monkeypatch.setattr(process, "CHUNK", 10)
    _corpus(store)
    lid = add_leads(store, 1, email="old@example.com", title="CEO", industry="SaaS", employees=5000, stage="mql")[0]
    with store.begin() as conn:  # a lead with history before the run: its stages are added to
        record_stage_changes(conn, [{"lead_id": lid, "from_stage": "new", "to_stage": "mql", "at": NOW,
                                      "cause": "import"}])
    process_leads(store, rules, now=NOW)
    with store.connect() as conn:
        history: dict[int, list[str]] = {}
        for lead, stage in conn.execute(text("SELECT lead_id, to_stage FROM stage_history ORDER BY lead_id, at, id")):
            history.setdefault(lead, []).append(stage)
        stored = dict(conn.execute(text("SELECT id, stages_entered FROM leads")).all())
    assert len(history) > 1
    for lead, stages in history.items():
        assert entered_stages(stored[lead]) == list(dict.fromkeys(stages))
    assert entered_stages(stored[lid])[0] == "mql"


@sqlite_only
def test_each_writers_indexes_are_its_own_record(tmp_path):
    db = str(tmp_path / "s.db")
    store = open_store(db)
    expected = _index_names(store)
    host = os.uname().nodename
    meta = models.Meta.__table__
    with store.begin() as conn:  # a running import (this process) and a process that was killed
        conn.execute(meta.insert().values(key=f"indexes_after_load.{os.getpid()}", value=json.dumps(
            {"pid": os.getpid(), "host": host, "indexes": ["ix_leads_created_at"], "triggers": False})))
        conn.execute(meta.insert().values(key="indexes_after_load.4206969", value=json.dumps(
            {"pid": 2 ** 22 + 12345, "host": host, "indexes": ["ix_leads_facts"], "triggers": False})))
        conn.execute(text('DROP INDEX "ix_leads_created_at"'))
        conn.execute(text('DROP INDEX "ix_leads_facts"'))
    store.dispose()
    store = open_store(db)
    assert _index_names(store) == expected - {"ix_leads_created_at"}  # the running one's are left to it
    with store.begin() as conn:
        assert indexes.pending(conn)
        indexes._create(conn, ["ix_leads_created_at"], triggers=False)  # what it does when its write ends
        assert not indexes.pending(conn)
    assert _index_names(store) == expected
    store.dispose()


@sqlite_only
@pytest.mark.parametrize(("per", "kept"), [(1, 30), (2, 30), (3, 10)])
def test_a_large_run_commits_every_few_chunks_and_a_failure_rolls_back_the_open_ones(rules, tmp_path, monkeypatch,
                                                                                      small_chunks, per, kept):
    monkeypatch.setattr(process, "SET_ASIDE_MIN", 1)
    monkeypatch.setattr(process, "TXN_CHUNKS", per)
    store = open_store(str(tmp_path / "s.db"))
    _corpus(store)
    with pytest.raises(RuntimeError):
        process_leads(store, rules, now=NOW, steps=[_failing_at(4)])
    # The first chunk commits before the indexes are set aside; then TXN_CHUNKS chunks per transaction.
    with store.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM leads WHERE processed IS NOT NULL")).scalar() == kept
        assert not indexes.pending(conn) and stays.installed(conn)
    store.dispose()
