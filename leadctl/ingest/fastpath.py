"""The import's reading worker: a large file is read and normalised in a forked process.

A `Worker` streams the normalised rows (plain tuples, in batches) to the importer, which
matches and writes them (store/bulk.py), so both cores work. It starts reading while the
importer still scans the files for repeated values (the first pass).

The batches travel through a ring of temporary files, not a pipe: the worker may run up to
_SEGMENTS × _SEGMENT_BYTES ahead of the importer without holding them in memory, so neither
waits for the other while one of them is briefly the slower (the importer catching up with
what the worker read during the first pass, a commit, the worker on a run of slow phones).
"""
from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import struct
import tempfile
import threading
import time
from typing import Any, Callable, Iterator

WORKER_MIN_BYTES = 4 << 20  # about 25k rows: below this, starting a worker does not pay
_BATCH = 500                # rows per message
_SEGMENTS = 16              # temporary files in the ring (at least 2: one is given back when the next one is read)
_SEGMENT_BYTES = 8 << 20    # messages per file up to this size: the worker is at most 128 MiB ahead
_HEADER = struct.Struct("=IQQ")  # a message's file in the ring, its offset there and its size


def use_worker(stream, path: str) -> bool:
    """Whether to read this (already opened, not yet iterated) file in a worker process:
    a large CSV file on disk, where fork is available."""
    if stream.format != "csv" or path == "-" or "fork" not in multiprocessing.get_all_start_methods():
        return False
    try:
        return os.path.getsize(path) >= WORKER_MIN_BYTES
    except OSError:
        return False


_channel: _Channel | None = None  # in a worker: its end of the channel


def ahead(batches: int) -> bool:
    """In a worker: whether it is at least this many batches ahead of the importer (sent, not yet read).
    Work either side can do is then done here; else the importer does it. False outside a worker."""
    return _channel is not None and _channel.sent - _channel.read.value >= batches


class Worker:
    """Iterate `events()` in a forked child, which starts reading at once, and yield its items here, in order.

    Some of what the child does with each item (`settle(items, decision)`, per batch) waits for a
    `decision` this side makes meanwhile (the import's first pass: which rows wait for the end). The
    child does not wait: the batches it reads before the decision comes are sent as they are, and this
    side settles those itself (with `settle_read`, by default `settle`; per batch).

    When the child's iteration ends, `result` (filled in by `events` in the child) is copied into this
    process's `result`. An exception in the child is raised here, after the items produced before it —
    so an InputError names the same file and row as it would without a worker. The child ignores
    Ctrl-C; this side stops it when it is done with it, or on any exception (KeyboardInterrupt included).
    """

    def __init__(self, events: Callable[[], Iterator[Any]], settle: Callable[[Iterator[Any], Any], Iterator[Any]],
                 result: dict, *, settle_read: Callable[[Iterator[Any], Any], Iterator[Any]] | None = None):
        ctx = multiprocessing.get_context("fork")
        self._settle, self.result = settle_read or settle, result
        self._ring = [tempfile.TemporaryFile() for _ in range(_SEGMENTS)]
        self._free = ctx.Semaphore(_SEGMENTS)  # ring files the child may fill
        self._read = ctx.RawValue("Q", 0)      # messages read here (see `ahead`)
        self._headers, headers = os.pipe()
        self._decide, decided = ctx.Pipe()
        channel = _Channel([f.fileno() for f in self._ring], self._free, headers, self._read)
        self._child = ctx.Process(target=_produce, args=(events, settle, result, channel, decided), daemon=True)
        self._child.start()
        os.close(headers)  # the child's end: reading it gives end-of-file when the child is gone
        decided.close()

    def items(self, decision: Any) -> Iterator[Any]:
        """Every item, settled with `decision`; the child is stopped at the end, or on any exception."""
        try:
            self._decide.send(decision)
            for kind, payload in self._messages():
                if kind == "items":
                    yield from payload
                elif kind == "read":
                    yield from self._settle(iter(payload), decision)
                elif kind == "error":
                    raise payload
                else:
                    self.result.update(payload)
                    return
        finally:
            self.close()

    def _messages(self) -> Iterator[tuple[str, Any]]:
        fds = [f.fileno() for f in self._ring]
        current = 0
        while True:
            header = _read_exactly(self._headers, _HEADER.size)
            if header is None:
                self._child.join()
                raise RuntimeError(f"the import's reading process stopped unexpectedly "
                                   f"(exit code {self._child.exitcode})")
            segment, offset, size = _HEADER.unpack(header)
            if segment != current:  # the child moved on: the file read before is free again
                self._free.release()
                current = segment
            message = pickle.loads(_pread_exactly(fds[segment], size, offset))
            self._read.value += 1
            yield message

    def close(self) -> None:
        """Stop the child (when it is still running) and let go of its channel."""
        if self._child.is_alive():
            self._child.terminate()
        self._child.join()
        if self._headers >= 0:
            os.close(self._headers)
            self._headers = -1
        self._decide.close()
        for f in self._ring:
            f.close()


class _Channel:
    """The child's end: each message pickled into the current ring file, then its header into the pipe."""

    def __init__(self, fds: list[int], free, headers: int, read):
        self.fds, self.free, self.headers, self.read = fds, free, headers, read
        self.segment, self.offset = -1, _SEGMENT_BYTES
        self.sent = 0

    def send(self, kind: str, payload: Any) -> None:
        data = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
        if self.offset and self.offset + len(data) > _SEGMENT_BYTES:  # on to the next file, once it is free
            self.free.acquire()
            self.segment, self.offset = (self.segment + 1) % len(self.fds), 0
        fd, view, at = self.fds[self.segment], memoryview(data), self.offset
        while view:
            written = os.pwrite(fd, view, at)
            view, at = view[written:], at + written
        os.write(self.headers, _HEADER.pack(self.segment, self.offset, len(data)))
        self.offset += len(data)
        self.sent += 1


def _read_exactly(fd: int, size: int) -> bytes | None:
    """`size` bytes from a pipe, or None at its end."""
    data = b""
    while len(data) < size:
        more = os.read(fd, size - len(data))
        if not more:
            return None
        data += more
    return data


def _pread_exactly(fd: int, size: int, offset: int) -> bytes:
    parts = []
    while size:
        part = os.pread(fd, size, offset)
        if not part:
            raise RuntimeError("the import's reading process left a message unfinished")
        parts.append(part)
        size, offset = size - len(part), offset + len(part)
    return b"".join(parts)


def _produce(events, settle, result: dict, channel: _Channel, decided) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    # Nothing to say on the parent's stdout/stderr: whoever waits for their end (a pipe)
    # must not wait for us, e.g. when the parent was killed.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True).start()
    global _channel
    _channel = channel
    send = channel.send
    items: list = []
    kind = "read"  # until the parent's decision comes: the items as they are ("items" after: settled)
    try:
        it = iter(events())
        for item in it:
            items.append(item)
            if len(items) >= _BATCH:
                send(kind, items)
                items = []
                if decided.poll():
                    break
        if items:
            send(kind, items)
            items = []
        kind = "items"
        for item in settle(it, decided.recv()):
            items.append(item)
            if len(items) >= _BATCH:
                send(kind, items)
                items = []
        if items:
            send(kind, items)
        send("done", dict(result))
    except BaseException as exc:  # noqa: BLE001 - every failure is handed to the parent
        if items:
            send(kind, items)
        send("error", _portable(exc))


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
