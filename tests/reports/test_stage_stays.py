"""stage_stays (store/stays.py): the counts the start-up funnel reads stay equal to the stage history,
whoever writes it, and give the same time in stage as reading every row.

SQLite only: the counts and their triggers exist on SQLite stores (PostgreSQL computes the
percentiles in the database).
"""
from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import text

from leadctl.reports import lite
from leadctl.store import stays

from .conftest import add_lead
from conftest import write_csv

REPO = Path(__file__).resolve().parents[2]
TIMED = ["new", "mql", "sql", "opportunity"]


def _sqlite_file(db_url: str) -> str:
    if "://" in db_url:
        pytest.skip("stage_stays is kept on SQLite stores only")
    return db_url


def _recounted(con) -> list[tuple]:
    """stage_stays as counting every stage-history row again gives it."""
    step = stays.STEP_SQL.format(row="h")
    return sorted(con.execute(
        f"SELECT to_stage, CASE WHEN left_at IS NULL THEN 'o' ELSE 'c' END, "
        f"CASE WHEN left_at IS NULL THEN substr(at, 1, 13) ELSE {step} END, count(*) "
        "FROM stage_history AS h GROUP BY 1, 2, 3").fetchall())


def _kept(con) -> list[tuple]:
    return sorted(con.execute("SELECT to_stage, kind, bucket, n FROM stage_stays WHERE n != 0").fetchall())


def test_a_new_store_keeps_the_counts(store, db_url):
    path = _sqlite_file(db_url)
    with store.begin() as conn:
        add_lead(conn, history=[("new", datetime(2026, 1, 1, 9, 15)), ("mql", datetime(2026, 1, 3, 17, 40, 5))])
    con = sqlite3.connect(path)
    assert stays.installed(con)
    assert _kept(con) == _recounted(con) and len(_kept(con)) == 2


@pytest.fixture
def cli_store(store, db_url, tmp_path, run_cli, monkeypatch):
    """A store with imported, processed leads: `run(*args)` runs leadctl on it; `check()` asserts the
    counts equal the history and the start-up funnel and the ordinary one (both reading the counts) equal
    the ordinary one reading every history row."""
    from leadctl.cli import fast

    path = _sqlite_file(db_url)
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "leadctl" / "default_rules", rules)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    taken: list[bool] = []
    real = fast.run
    monkeypatch.setattr(fast, "run", lambda argv: taken.append(real(argv)) or taken[-1])

    def run(*args, cached: bool = True, now: str = "2026-03-01T12:00"):
        res = run_cli("--db", db_url, "--rules", rules, "--now", now, *args,
                      env={"LEADCTL_RULES_CACHE": None if cached else "0", "LEADCTL_WIDTH": "160"})
        assert res.code == 0, res.err
        return res.out

    def check(now: str = "2026-03-01T12:00"):
        con = sqlite3.connect(path)
        try:
            assert _kept(con) == _recounted(con)
        finally:
            con.close()
        with monkeypatch.context() as m:  # the reference: the ordinary path reading every history row
            m.setattr(lite, "times_from_stays", lambda *args: None)
            every_row = run("report", "funnel", "--format", "json", cached=False, now=now)
        ordinary = run("report", "funnel", "--format", "json", cached=False, now=now)  # the counts (--strict, charts)
        started = run("report", "funnel", "--format", "json", now=now)
        assert taken[-3:] == [False, False, True]
        assert started == ordinary == every_row

    header = ["Email", "First Name", "Company", "Lead Source", "Created Date", "Lead Status", "Employees"]
    rows = [[f"p{i}@firm{i % 7}.example", f"P{i}", f"Firm {i % 7}", ("Webinar", "Referral")[i % 2],
             f"2026-01-{1 + i % 28:02d} {i % 24:02d}:{(7 * i) % 60:02d}:00", ("New", "MQL", "SQL")[i % 3],
             str(10 * i)] for i in range(40)]
    run("rules", "check")
    run("import", write_csv(tmp_path / "leads.csv", header, rows), now="2026-02-01T08:30")
    run("process", now="2026-02-10T14:45:10")
    check()
    return run, check, path


@pytest.fixture(params=["by triggers", "in batches"])
def counting(request, monkeypatch):
    """Rows counted by the triggers, or (store.history's large batches) counted out and in around the write."""
    if request.param == "in batches":
        monkeypatch.setattr(stays, "BATCH", 1)
    return request.param


def test_stage_moves_merge_forget_and_undo_keep_the_counts(counting, cli_store):
    run, check, path = cli_store
    con = sqlite3.connect(path)
    ids = [r[0] for r in con.execute("SELECT id FROM leads ORDER BY id LIMIT 4")]
    batch = con.execute("SELECT max(id) FROM batches").fetchone()[0]
    con.close()
    run("leads", "stage", str(ids[0]), "opportunity", now="2026-02-20T10:00")
    check()
    run("leads", "stage", str(ids[0]), "new", "--force", now="2026-02-21T10:00")
    check()
    run("leads", "merge", str(ids[1]), str(ids[2]), "--yes", now="2026-02-22T10:00")
    check()
    run("leads", "forget", str(ids[3]), "--yes", now="2026-02-23T10:00")
    check()
    run("batches", "undo", str(batch), "--yes", "--force", now="2026-02-24T10:00")
    check()


def test_a_clock_before_the_history_reads_every_row(cli_store):
    run, check, _path = cli_store
    check(now="2026-02-05T00:00")   # rows dated after now: the counts cannot leave them out


def test_a_store_without_the_counts_reads_every_row(store, db_url):
    path = _sqlite_file(db_url)
    with store.begin() as conn:
        add_lead(conn, history=[("new", datetime(2026, 1, 1, 9, 15)), ("mql", datetime(2026, 1, 3, 17, 40))])
        conn.execute(text("DROP TRIGGER stage_stays_insert"))
    con = sqlite3.connect(path)
    assert not stays.installed(con)
    assert lite.times_from_stays(con, TIMED, datetime(2026, 3, 1)) is None


_times = st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2026, 2, 28))
_leads = st.lists(st.lists(st.tuples(st.sampled_from(TIMED[:3]), _times), min_size=1, max_size=4),
                  min_size=1, max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(leads=_leads, now=st.datetimes(min_value=datetime(2026, 3, 1), max_value=datetime(2026, 3, 3)),
       half=st.booleans(), batch=st.sampled_from([1, stays.BATCH]))
def test_time_in_stage_from_the_counts_equals_every_row(tmp_path_factory, leads, now, half, batch, monkeypatch):
    """Any histories (times to the microsecond, some on the half hour before now), any clock."""
    from leadctl.store.db import open_store

    folder = tmp_path_factory.mktemp("stays")
    store = open_store(str(folder / "a.db"))
    monkeypatch.setattr(stays, "BATCH", batch)
    with store.begin() as conn:
        for history in leads:
            rows = sorted(history, key=lambda r: r[1])
            if half:  # a stay of exactly k and a half hours: the rounding boundary
                rows[-1] = (rows[-1][0], now - timedelta(hours=len(rows), minutes=30))
            add_lead(conn, created_at=rows[0][1], history=rows)
    store.dispose()
    con = sqlite3.connect(folder / "a.db")
    assert stays.installed(con)
    assert _kept(con) == _recounted(con)
    assert lite.times_from_stays(con, TIMED, now) == lite._times(con, TIMED, now)


def test_a_large_first_load_counts_again_at_its_end(store, db_url, tmp_path, monkeypatch):
    """store.indexes.built_after drops the triggers for a large load and counts every row when it ends."""
    from leadctl.store import indexes

    path = _sqlite_file(db_url)
    monkeypatch.setattr(indexes, "MIN_ROWS", 1)
    with indexes.built_after(store, 10) as dropped:
        assert dropped
        assert not stays.installed(sqlite3.connect(path))
        with store.begin() as conn:
            for i in range(10):
                add_lead(conn, history=[("new", datetime(2026, 1, 1 + i, 9)), ("mql", datetime(2026, 1, 20, i))])
    con = sqlite3.connect(path)
    assert stays.installed(con)
    assert _kept(con) == _recounted(con) and sum(r[3] for r in _kept(con)) == 20
