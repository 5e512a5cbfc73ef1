"""Bulk statements for the import's write path: compiled once, executed with plain tuples.

SQLAlchemy's executemany processes every parameter of every row in Python
(construct_params, one bind processor call per value): for a million leads that
is most of the write time. `BulkStatement` compiles a Core statement once for the
connection's dialect and, where parameters are positional (SQLite), hands the
DBAPI cursor ready tuples — each value converted by its column type's own bind
processor, so what is stored is exactly what `conn.execute(stmt, rows)` stores.
Elsewhere (PostgreSQL) it is that plain `conn.execute(stmt, rows)`.

    insert = BulkStatement(conn.dialect, table.insert(), ["email", "created_at"])
    insert.execute(conn, [{"email": "a@x.org", "created_at": now}, ...])

The other half of the fast path is `in_worker`: reading and normalising a large file
runs in a forked worker process that streams the normalised rows (plain tuples, in
batches, through a bounded queue) to the importer, which matches and writes them, so
both cores work and memory stays flat.
"""
from __future__ import annotations

import multiprocessing
import os
import pickle
import queue as queue_module
import signal
import threading
import time
from datetime import datetime
from typing import Any, Callable, Iterator, Sequence

from sqlalchemy import DateTime

_PROBE = datetime(2001, 2, 3, 4, 5, 6, 7)


def _datetime_processor(slow: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """SQLite's DateTime bind processor for naive datetimes, at C speed.

    `isoformat(" ", "microseconds")` is SQLAlchemy's default SQLite storage format
    (`2026-11-20 10:00:00.000000`); it is used only if it gives the processor's own
    answer on a probe value, and anything but a naive datetime still goes to `slow`.
    """
    if slow(_PROBE) != _PROBE.isoformat(" ", "microseconds"):
        return slow

    def process(value, _dt=datetime, _slow=slow):
        if value is None:
            return None
        if type(value) is _dt and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return _slow(value)

    return process


class BulkStatement:
    """A statement for many rows of parameters named `keys` (dicts; a missing key is None)."""

    def __init__(self, dialect, stmt, keys: Sequence[str]):
        self.stmt = stmt
        self.keys = tuple(keys)
        self.sql: str | None = None
        if dialect.paramstyle != "qmark":
            return  # not positional: plain conn.execute
        compiled = stmt.compile(dialect=dialect, column_keys=list(self.keys))
        order = compiled.positiontup or []
        prefetch = {c.key: c for c in compiled.insert_prefetch + compiled.update_prefetch}
        processors = compiled._bind_processors
        plan: list[tuple[str | None, Any]] = []  # (key, None) from the row, or (None, constant)
        for name in order:
            if name in self.keys:
                plan.append((name, None))
                continue
            col = prefetch.get(name)
            default = getattr(col, "default", None)
            if default is None or not default.is_scalar:
                return  # a bind we cannot fill (a callable default, a literal): plain execute
            value = default.arg
            proc = processors.get(name)
            plan.append((None, proc(value) if proc else value))
        self._getters = plan
        self._process = []
        for i, name in enumerate(order):
            proc = processors.get(name)
            if proc is not None and plan[i][0] is not None:
                if isinstance(compiled.binds[name].type, DateTime):
                    proc = _datetime_processor(proc)
                self._process.append((i, proc))
        self.sql = compiled.string

    def execute(self, conn, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        if self.sql is None:
            keys = self.keys
            conn.execute(self.stmt, [{k: row.get(k) for k in keys} for row in rows])
            return
        conn.exec_driver_sql(self.sql, self.tuples(rows))

    def tuples(self, rows: Sequence[dict[str, Any]]) -> list[tuple]:
        """The rows as the positional parameter tuples the DBAPI cursor receives."""
        getters, process = self._getters, self._process
        out = []
        append = out.append
        for row in rows:
            get = row.get
            values = [get(k) if k is not None else c for k, c in getters]
            for i, proc in process:
                values[i] = proc(values[i])
            append(tuple(values))
        return out


# -- the reading worker ---------------------------------------------------------------

WORKER_MIN_BYTES = 4 << 20  # about 25k rows: below this, starting a worker does not pay
_BATCH = 500                # rows per message
_QUEUED = 16                # messages in flight at most (memory stays flat)


def use_worker(stream, path: str) -> bool:
    """Whether to read this (already opened, not yet iterated) file in a worker process:
    a large CSV file on disk, where fork is available."""
    if stream.format != "csv" or path == "-" or "fork" not in multiprocessing.get_all_start_methods():
        return False
    try:
        return os.path.getsize(path) >= WORKER_MIN_BYTES
    except OSError:
        return False


def in_worker(produce: Callable[[], Iterator[Any]], result: dict) -> Iterator[Any]:
    """Iterate `produce()` in a forked child and yield its items here, in order.

    When the child's iteration ends, `result` (filled in by `produce` in the child) is
    copied into this process's `result`. An exception in the child is raised here, after
    the items produced before it — so an InputError names the same file and row as it
    would without a worker. The child ignores Ctrl-C; this side stops it when it is done
    with it, or on any exception (KeyboardInterrupt included).
    """
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue(maxsize=_QUEUED)
    child = ctx.Process(target=_produce, args=(produce, result, queue), daemon=True)
    child.start()
    try:
        while True:
            kind, payload = _get(queue, child)
            if kind == "items":
                yield from payload
            elif kind == "error":
                raise payload
            else:
                result.update(payload)
                return
    finally:
        if child.is_alive():
            child.terminate()
        child.join()
        queue.close()
        queue.cancel_join_thread()


def _get(queue, child):
    while True:
        try:
            return queue.get(timeout=1.0)
        except queue_module.Empty:
            if not child.is_alive() and queue.empty():
                raise RuntimeError(f"the import's reading process stopped unexpectedly "
                                   f"(exit code {child.exitcode})") from None


def _produce(produce, result: dict, queue) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    # Nothing to say on the parent's stdout/stderr: whoever waits for their end (a pipe)
    # must not wait for us, e.g. when the parent was killed.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True).start()
    put = queue.put
    items: list = []
    try:
        for item in produce():
            items.append(item)
            if len(items) >= _BATCH:
                put(("items", items))
                items = []
        if items:
            put(("items", items))
        put(("done", dict(result)))
    except BaseException as exc:  # noqa: BLE001 - every failure is handed to the parent
        if items:
            put(("items", items))
        put(("error", _portable(exc)))
    queue.close()
    queue.join_thread()


def _exit_with(parent: int) -> None:
    """In the worker: end it if the parent is gone (killed), wherever the worker is blocked."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _portable(exc: BaseException) -> BaseException:
    """The exception itself if it survives pickling, else a RuntimeError saying what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(exc).__name__}: {exc}")
