"""The import's reading worker: a large file is read and normalised in a forked process.

A `Worker` streams the normalised rows (plain tuples, in batches, through a bounded
queue) to the importer, which matches and writes them (store/bulk.py), so both cores
work and memory stays flat. It starts reading while the importer still scans the files
for repeated values (the first pass), spooling what it reads until then.
"""
from __future__ import annotations

import multiprocessing
import os
import pickle
import queue as queue_module
import signal
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Iterator

WORKER_MIN_BYTES = 4 << 20  # about 25k rows: below this, starting a worker does not pay
_BATCH = 500                # rows per message
_QUEUED = 16                # messages in flight at most (memory stays flat)
_PIPE_BYTES = 1 << 20       # the queue's pipe buffer (see _widen)
_SWITCH_SECONDS = 0.0005    # the worker's GIL switch interval (see _produce)


def use_worker(stream, path: str) -> bool:
    """Whether to read this (already opened, not yet iterated) file in a worker process:
    a large CSV file on disk, where fork is available."""
    if stream.format != "csv" or path == "-" or "fork" not in multiprocessing.get_all_start_methods():
        return False
    try:
        return os.path.getsize(path) >= WORKER_MIN_BYTES
    except OSError:
        return False


class Worker:
    """Iterate `events()` in a forked child, which starts reading at once, and yield its items here, in order.

    Some of what the child does with each item (`settle(items, decision)`) waits for a `decision` this side
    makes meanwhile (the import's first pass: which rows wait for the end). The child does not wait: it
    spools the items it reads before the decision comes to a temporary file (disk, not memory), and this
    side settles those itself, exactly as the child settles the rest. So both cores work from the start.

    When the child's iteration ends, `result` (filled in by `events` in the child) is copied into this
    process's `result`. An exception in the child is raised here, after the items produced before it —
    so an InputError names the same file and row as it would without a worker. The child ignores
    Ctrl-C; this side stops it when it is done with it, or on any exception (KeyboardInterrupt included).
    """

    def __init__(self, events: Callable[[], Iterator[Any]], settle: Callable[[Iterator[Any], Any], Iterator[Any]],
                 result: dict):
        ctx = multiprocessing.get_context("fork")
        self._settle, self.result = settle, result
        self._queue = ctx.Queue(maxsize=_QUEUED)
        _widen(self._queue)
        self._spool = tempfile.TemporaryFile()
        self._decide, decided = ctx.Pipe()
        self._child = ctx.Process(target=_produce, args=(events, settle, result, self._queue, decided, self._spool),
                                  daemon=True)
        self._child.start()
        decided.close()

    def items(self, decision: Any) -> Iterator[Any]:
        """Every item, settled with `decision`; the child is stopped at the end, or on any exception."""
        try:
            self._decide.send(decision)
            while True:
                kind, payload = _get(self._queue, self._child)
                if kind == "items":
                    yield from payload
                elif kind == "spooled":
                    yield from self._settle(_unspool(self._spool, payload), decision)
                elif kind == "error":
                    raise payload
                else:
                    self.result.update(payload)
                    return
        finally:
            self.close()

    def close(self) -> None:
        """Stop the child (when it is still running) and let go of its queue and spool."""
        if self._child.is_alive():
            self._child.terminate()
        self._child.join()
        self._queue.close()
        self._queue.cancel_join_thread()
        self._decide.close()
        self._spool.close()


def _unspool(spool, batches: int) -> Iterator[Any]:
    spool.seek(0)
    for _ in range(batches):
        yield from pickle.load(spool)


def _widen(queue) -> None:
    """Give the queue's pipe room for a whole message (Linux: 64 KiB by default, about a tenth of one):
    each message then crosses in one write and one read, not in a dozen handoffs between the processes."""
    try:
        import fcntl

        fcntl.fcntl(queue._writer.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    except (ImportError, AttributeError, OSError):  # not Linux, or over the system's limit: as it was
        pass


def _get(queue, child):
    while True:
        try:
            return queue.get(timeout=1.0)
        except queue_module.Empty:
            if not child.is_alive() and queue.empty():
                raise RuntimeError(f"the import's reading process stopped unexpectedly "
                                   f"(exit code {child.exitcode})") from None


def _produce(events, settle, result: dict, queue, decided, spool) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    # Nothing to say on the parent's stdout/stderr: whoever waits for their end (a pipe)
    # must not wait for us, e.g. when the parent was killed.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True).start()
    # The queue's feeder thread writes each message to the pipe a pipe-buffer at a time and needs the
    # GIL back after every write, while this thread normalises rows without a pause: at Python's
    # 5 ms switch interval it waited for it each time, and both processes ended up waiting on each
    # other (100k rows: the worker blocked 3 s of its 8, the importer 4 s). 0.5 ms ends that convoy.
    sys.setswitchinterval(_SWITCH_SECONDS)
    put = queue.put
    items: list = []
    spooled, spooling = 0, True
    try:
        it = iter(events())
        # Until the parent's decision comes: the items as they are, in batches, to the spool.
        for item in it:
            items.append(item)
            if len(items) >= _BATCH:
                pickle.dump(items, spool, protocol=pickle.HIGHEST_PROTOCOL)
                spooled, items = spooled + 1, []
                if decided.poll():
                    break
        spooling = False
        _end_spool(spool, spooled, items, put)
        items = []
        for item in settle(it, decided.recv()):
            items.append(item)
            if len(items) >= _BATCH:
                put(("items", items))
                items = []
        if items:
            put(("items", items))
        put(("done", dict(result)))
    except BaseException as exc:  # noqa: BLE001 - every failure is handed to the parent
        if spooling:  # the parent settles what was read before it (it has the decision)
            _end_spool(spool, spooled, items, put)
        elif items:
            put(("items", items))
        put(("error", _portable(exc)))
    queue.close()
    queue.join_thread()


def _end_spool(spool, spooled: int, items: list, put) -> None:
    """Spool the last items read before the decision, and tell the parent how many batches to read back."""
    if items:
        pickle.dump(items, spool, protocol=pickle.HIGHEST_PROTOCOL)
        spooled += 1
    spool.flush()
    put(("spooled", spooled))


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
