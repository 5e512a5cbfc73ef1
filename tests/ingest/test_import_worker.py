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


def _sent_from_the_worker():
    import fcntl
    import sys

    # what the worker sees: its GIL switch interval, and the size of the pipe it writes to
    yield sys.getswitchinterval()
    yield max(fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ) for fd in _pipe_fds())


def _pipe_fds():
    import os
    import stat

    out = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if stat.S_ISFIFO(os.fstat(int(name)).st_mode):
                out.append(int(name))
        except OSError:
            pass
    return out


@pytest.mark.skipif(not __import__("os").path.isdir("/proc/self/fd") or
                    not hasattr(__import__("fcntl"), "F_GETPIPE_SZ"), reason="Linux pipes")
def test_the_worker_hands_rows_over_without_waiting_on_its_own_threads():
    """The worker's feeder thread gets the GIL back within 0.5 ms (not Python's 5 ms), and the queue's pipe holds a
    whole message: both processes had waited on each other's handoffs."""
    switch, pipe = list(fastpath.in_worker(_sent_from_the_worker, {}))
    assert switch == fastpath._SWITCH_SECONDS
    assert pipe >= fastpath._PIPE_BYTES
