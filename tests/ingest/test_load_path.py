"""The large-load path of an import: indexes built after the load, rows held for the end-of-import
fold kept on disk and folded in slices of whole groups. Outcomes equal the plain path's."""
from __future__ import annotations

import json
import os
from datetime import datetime

from sqlalchemy import select, text

from leadctl.ingest import importer
from leadctl.ingest.deferred import Deferred
from leadctl.ingest.importer import ImportOptions, import_leads
from leadctl.store import indexes, models
from leadctl.store.db import open_store

from conftest import sqlite_only, write_csv

NOW = datetime(2026, 11, 20, 10, 0)


def _rows(n: int) -> list[list[str]]:
    # every fifth person twice (a later row adds a company), a switchboard phone shared by two people
    out = [[f"p{i}@example.com", "", f"First{i}", "Last", ""] for i in range(n)]
    out += [[f"p{i}@example.com", "", f"First{i}", "Last", "Acme"] for i in range(0, n, 5)]
    out += [["ann@acme.example", "+1 415 555 0100", "Ann", "Lee", ""],
            ["bob@acme.example", "+1 415 555 0100", "Bob", "Kay", ""]]
    return out


def _leads(store) -> list[tuple]:
    t = models.Lead.__table__
    with store.connect() as conn:
        return [tuple(r) for r in conn.execute(select(t.c.id, t.c.email, t.c.phone, t.c.company, t.c.stage)
                                               .order_by(t.c.id))]


def _index_names(store) -> set[str]:
    with store.connect() as conn:
        return {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))}


@sqlite_only
def test_indexes_built_after_the_load_give_the_same_store_and_all_come_back(rules, tmp_path, monkeypatch):
    path = write_csv(tmp_path / "in.csv", ["Email", "Phone", "First Name", "Last Name", "Company"], _rows(60))
    outcomes = []
    for name, min_rows in (("plain", 1 << 40), ("after", 1)):
        monkeypatch.setattr(indexes, "MIN_ROWS", min_rows)
        store = open_store(str(tmp_path / f"{name}.db"))
        expected = _index_names(store)
        r = import_leads(store, [path], ImportOptions(), rules, now=NOW)
        again = import_leads(store, [path], ImportOptions(), rules, now=NOW)
        assert _index_names(store) == expected
        with store.connect() as conn:
            assert not indexes.pending(conn)
        outcomes.append((r.summary(), again.summary(), _leads(store)))
        store.dispose()
    assert outcomes[0] == outcomes[1]
    assert outcomes[1][1]["unchanged"] == outcomes[1][1]["read"]


@sqlite_only
def test_a_killed_imports_indexes_come_back_when_the_store_is_next_opened(tmp_path):
    db = str(tmp_path / "s.db")
    store = open_store(db)
    expected = _index_names(store)
    with store.begin() as conn:  # what a load that was killed leaves behind: no indexes, a dead owner
        conn.execute(models.Meta.__table__.insert().values(
            key="indexes_after_load", value=json.dumps({"pid": 2 ** 22 + 12345, "host": os.uname().nodename})))
        for name in indexes.AFTER_LOAD:
            conn.execute(text(f'DROP INDEX IF EXISTS "{name}"'))
    assert _index_names(store) != expected
    store.dispose()
    store = open_store(db)
    assert _index_names(store) == expected
    with store.connect() as conn:
        assert not indexes.pending(conn)
    store.dispose()


@sqlite_only
def test_a_running_imports_indexes_are_left_to_it(tmp_path):
    db = str(tmp_path / "s.db")
    store = open_store(db)
    with store.begin() as conn:
        conn.execute(models.Meta.__table__.insert().values(
            key="indexes_after_load", value=json.dumps({"pid": os.getpid(), "host": os.uname().nodename})))
        conn.execute(text('DROP INDEX "ix_leads_facts"'))
    store.dispose()
    store = open_store(db)
    assert "ix_leads_facts" not in _index_names(store)
    store.dispose()


def test_deferred_rows_come_back_in_slices_of_whole_groups_in_the_order_added():
    held = Deferred()
    # rows 0, 3, 5 share value 1; rows 1 and 4 share 2 (through 4's second value, 3 joins 6); row 2 alone
    hashes = [[1], [2], [9], [1, 7], [2], [1, 8], [7]]
    for i, h in enumerate(hashes):
        held.add({"n": i}, h)
    slices = [[r["n"] for r in part] for part in held.slices(2)]
    held.close()
    assert slices == [[0, 3, 5, 6], [1, 4], [2]]
    assert sorted(n for part in slices for n in part) == list(range(7))


def test_rows_a_worker_held_come_back_after_those_added_before_in_the_order_held():
    held = Deferred()
    held.add({"n": 0}, [1])
    number, spill = held.spill_file()
    worker = Deferred(spill)  # (in the reading worker: the same file, its own offsets)
    for i, h in ((1, [2]), (2, [1]), (3, [3])):
        worker.add({"n": i}, h)
    held.adopt(number, *worker.held())
    held.add({"n": 4}, [2])
    slices = [[r["n"] for r in part] for part in held.slices(1)]
    held.close()
    assert slices == [[0, 2], [1, 4], [3]]


def test_deferred_slices_do_not_change_a_reimport(store, rules, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "CHUNK", 3)
    monkeypatch.setattr(importer, "DEFERRED_SLICE", 1)
    path = write_csv(tmp_path / "in.csv", ["Email", "Phone", "First Name", "Last Name", "Company"], _rows(20))
    first = import_leads(store, [path], ImportOptions(), rules, now=NOW)
    again = import_leads(store, [path], ImportOptions(), rules, now=NOW)
    assert first.created == 22 and first.merged == 4 and first.possible_duplicates == 1
    assert again.unchanged == again.read == first.read


@sqlite_only
def test_chunks_checkpoint_the_log_seldom_and_give_the_connection_its_own_setting_back(rules, tmp_path, monkeypatch):
    """While an import writes, its commits fold the write-ahead log into the database only past
    WAL_PAGES pages; afterwards its connection checkpoints as before (a process in the same run too)."""
    store = open_store(str(tmp_path / "s.db"))
    path = write_csv(tmp_path / "a.csv", ["email", "phone", "first_name", "last_name", "company"], _rows(50))
    seen = []
    real = importer._Importer._apply

    def spy(self, conn, rows):
        seen.append(conn.connection.driver_connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        return real(self, conn, rows)

    monkeypatch.setattr(importer._Importer, "_apply", spy)
    import_leads(store, [path], ImportOptions(), rules, now=NOW)
    assert seen and set(seen) == {importer.WAL_PAGES}
    with store.connect() as conn:
        assert conn.connection.driver_connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000


def test_chunks_commit_in_transactions_of_several_and_a_rollback_uncounts_them(store, rules, tmp_path, monkeypatch):
    """An import commits after 1, 2, 4, ... chunks, TXN_CHUNKS at most. Ctrl-C inside a chunk rolls back every
    chunk since the last commit: the leads committed before it stay, and the interrupted batch counts those."""
    path = write_csv(tmp_path / "in.csv", ["Email", "First Name"], [[f"p{i}@example.com", f"P{i}"] for i in range(70)])
    monkeypatch.setattr(importer, "CHUNK", 10)
    monkeypatch.setattr(importer, "TXN_CHUNKS", 3)
    real, calls = importer.write_fold, []

    def write_fold(conn, *args, **kwargs):
        calls.append(1)
        if len(calls) == 5:  # the second chunk of the third transaction (chunks 4-6)
            raise KeyboardInterrupt
        return real(conn, *args, **kwargs)

    monkeypatch.setattr(importer, "write_fold", write_fold)
    try:
        import_leads(store, [path], ImportOptions(), rules, now=NOW)
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the import was not interrupted")
    b = models.Batch.__table__
    with store.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM leads")).scalar()
        status, created = conn.execute(select(b.c.status, b.c.created)).one()
    assert (n, status, created) == (30, "interrupted", 30)


def test_batches_commit_every_per_uses_and_flush_the_rest():
    from leadctl.store import Batches

    log: list[str] = []

    class Txn:
        def __enter__(self):
            log.append("begin")
            return "conn"

        def __exit__(self, kind, exc, tb):
            log.append("rollback" if kind else "commit")

    batches = Batches(Txn, 2, on_rollback=lambda: log.append("uncounted"))
    for _ in range(3):
        with batches() as conn:
            assert conn == "conn"
    assert batches.open
    batches.flush()
    assert not batches.open
    try:
        with batches():
            raise ValueError
    except ValueError:
        pass
    assert log == ["begin", "commit", "begin", "commit", "begin", "rollback", "uncounted"]
    log.clear()
    growing = Batches(Txn, 4, growing=True)
    for _ in range(11):
        with growing():
            log.append("chunk")
    growing.flush()
    assert " ".join(log).split("commit") == ["begin chunk ", " begin chunk chunk ", " begin chunk chunk chunk chunk ",
                                             " begin chunk chunk chunk chunk ", ""]
