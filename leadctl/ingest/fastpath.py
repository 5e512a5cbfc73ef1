"""The import's reading worker: a large file is read and normalised in a forked process.

`in_worker` streams the normalised rows (plain tuples, in batches, through a bounded
queue) to the importer, which matches and writes them (store/bulk.py), so both cores
work and memory stays flat.
"""
from __future__ import annotations

import multiprocessing
import os
import pickle
import queue as queue_module
import signal
import sys
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
    _widen(queue)
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


def _produce(produce, result: dict, queue) -> None:
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
