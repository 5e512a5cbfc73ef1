"""Large CSV files are read and normalised in a worker process: same results, same errors."""
from __future__ import annotations

import csv

import pytest
from sqlalchemy import select

from leadctl.errors import InputError
from leadctl.ingest import fastpath
from leadctl.ingest.importer import ImportOptions, import_leads
from leadctl.store import models
from leadctl.store.db import open_store

from conftest import EXAMPLES, sqlite_only

NOW = __import__("datetime").datetime(2026, 11, 20, 10, 0)
pytestmark = pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(),
                                reason="the worker needs fork")


def _snapshot(store):
    out = []
    for model in (models.Lead, models.StageChange, models.BatchChange):
        t = model.__table__
        with store.connect() as conn:
            out.append([tuple(r) for r in conn.execute(select(t).order_by(t.c.id))])
    return out


@sqlite_only
def test_worker_gives_the_same_store_rejects_and_counts(rules, tmp_path, monkeypatch):
    files = [str(EXAMPLES / "hubspot_contacts.csv"), str(EXAMPLES / "webform_leads.json"),
             str(EXAMPLES / "hubspot_contacts.csv")]
    results = []
    for name, min_bytes in (("plain", 1 << 40), ("worker", 0)):
        monkeypatch.setattr(fastpath, "WORKER_MIN_BYTES", min_bytes)
        store = open_store(str(tmp_path / f"{name}.db"))
        r = import_leads(store, files[:2], ImportOptions(rejects=str(tmp_path / f"{name}.rej.csv")), rules, now=NOW)
        again = import_leads(store, files[2:], ImportOptions(mode="create", rejects=str(tmp_path / f"{name}.2.csv")),
                             rules, now=NOW)
        rejects = [open(f, encoding="utf-8").read() for f in r.rejects_files + again.rejects_files]
        results.append((r.summary(), r.warnings, again.summary(), again.warnings, rejects, _snapshot(store)))
        store.dispose()
    assert results[0] == results[1]


def test_worker_error_names_file_and_row_and_takes_back_the_batch(store, rules, tmp_path, monkeypatch):
    monkeypatch.setattr(fastpath, "WORKER_MIN_BYTES", 0)
    monkeypatch.setattr("leadctl.ingest.importer.CHUNK", 50)
    path = tmp_path / "broken.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Email", "Company"])
        w.writerows([[f"p{i}@example.com", "Acme"] for i in range(1, 1201)])
        fh.write('p1201@example.com,"Acme\n')
        w.writerows([[f"q{i}@example.com", "Acme"] for i in range(5)])
    with pytest.raises(InputError) as info:
        import_leads(store, [str(path)], ImportOptions(), rules, now=NOW)
    assert info.value.file == str(path) and info.value.row == 1201
    assert "unterminated quote" in info.value.message
    t = models.Lead.__table__
    with store.connect() as conn:
        assert conn.execute(select(t.c.id)).first() is None


def _many(n: int, produced):
    def events():
        for i in range(n):
            produced.value = i + 1
            yield f"{i:06d}" + "x" * 100
    return events


def _as_read(items, _decision):
    return items


def test_the_worker_runs_ahead_only_as_far_as_its_ring_of_files(monkeypatch):
    """The worker hands batches over through a bounded ring of temporary files: unread, they stop it
    (memory and disk stay flat), and read, every item arrives once, in order."""
    import multiprocessing
    import time

    monkeypatch.setattr(fastpath, "_BATCH", 10)
    monkeypatch.setattr(fastpath, "_SEGMENTS", 3)
    monkeypatch.setattr(fastpath, "_SEGMENT_BYTES", 2000)  # one batch of ten 106-byte items a file
    produced = multiprocessing.get_context("fork").Value("i", 0)
    worker = fastpath.Worker(_many(5000, produced), _as_read, {})
    time.sleep(1.0)  # nothing read yet: the worker fills the ring and waits
    assert produced.value <= 4 * 10 + 1
    items = list(worker.items(None))
    assert items == [f"{i:06d}" + "x" * 100 for i in range(5000)]


def _counting(n: int, ready, fail_at: int | None = None):
    def events():
        for i in range(n):
            if i == fail_at:
                raise InputError("broken here", file="f.csv", row=i)
            yield i
            if i == 1000:
                ready.set()  # items 0-1000 were read before the decision (see below)
    return events


def _settled_where(items, decision):
    import os

    for i in items:
        yield decision, i, os.getpid()


@pytest.mark.parametrize("fail_at", [None, 1500])
def test_the_worker_reads_ahead_of_the_decision_and_every_item_is_settled_with_it(fail_at):
    """The worker starts reading before the importer has decided which rows wait (the first pass): what it
    read before is sent as it is and settled on this side, the rest in the worker; each item once, in order."""
    import multiprocessing
    import os

    ready = multiprocessing.get_context("fork").Event()
    result: dict = {}
    worker = fastpath.Worker(_counting(3000, ready, fail_at), _settled_where, result)
    assert ready.wait(30)
    got = []
    if fail_at is None:
        got.extend(worker.items("d"))
    else:
        with pytest.raises(InputError) as info:
            got.extend(worker.items("d"))
        assert info.value.row == fail_at
    assert [(d, i) for d, i, _pid in got] == [("d", i) for i in range(fail_at or 3000)]
    assert {pid for _d, i, pid in got if i <= 1000} == {os.getpid()}  # read before the decision: settled here
