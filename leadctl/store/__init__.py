"""The store: tables, engine setup and migrations."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Sequence


def in_parts(values: Iterable[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    """`values` in parts of `size`, one IN list each: well below every database's parameter limit."""
    items = values if isinstance(values, (list, tuple)) else list(values)
    for i in range(0, len(items), size):
        yield items[i:i + size]


class IdSet:
    """A set of row ids (positive ints) kept as a bitmap: 125 KB for the ids of a million leads, where a
    Python set of them takes ~60 MB. Ids from BITMAP_IDS on (a store that far along) are kept in a set.
    Iteration is in ascending order."""

    BITMAP_IDS = 1 << 27  # 16 MiB of bitmap at most

    __slots__ = ("_bits", "_n", "_high")

    def __init__(self, ids: Iterable[int] = ()):
        self._bits = bytearray()
        self._n = 0
        self._high: set[int] = set()
        self.update(ids)

    def add(self, i: int) -> None:
        if i < 0 or i >= self.BITMAP_IDS:
            self._high.add(i)
            return
        byte, mask = i >> 3, 1 << (i & 7)
        bits = self._bits
        if byte >= len(bits):
            bits.extend(bytes(max(byte + 1, 2 * len(bits)) - len(bits)))
        if not bits[byte] & mask:
            bits[byte] |= mask
            self._n += 1

    def update(self, ids: Iterable[int]) -> None:
        for i in ids:
            self.add(i)

    def clear(self) -> None:
        self._bits = bytearray()
        self._n = 0
        self._high.clear()

    def __contains__(self, i: object) -> bool:
        if type(i) is not int or i < 0 or i >= self.BITMAP_IDS:
            return i in self._high
        byte = i >> 3
        return byte < len(self._bits) and bool(self._bits[byte] & (1 << (i & 7)))

    def __len__(self) -> int:
        return self._n + len(self._high)

    def __iter__(self) -> Iterator[int]:
        high = sorted(self._high)
        yield from (i for i in high if i < 0)
        for byte, b in enumerate(self._bits):
            if b:
                base = byte << 3
                for bit in range(8):
                    if b >> bit & 1:
                        yield base + bit
        yield from (i for i in high if i >= 0)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, IdSet):
            return list(self) == list(other)
        if isinstance(other, (set, frozenset)):
            return len(self) == len(other) and all(i in self for i in other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, as a set is

    def __repr__(self) -> str:
        return f"IdSet({len(self)} ids)"


@contextmanager
def pragma_while(raw: Any, name: str, value: Callable[[int], int]) -> Iterator[None]:
    """Inside the block, a SQLite connection's (a DB-API one) integer PRAGMA `name` is `value(its own)`;
    after it, its own again (also when the block fails)."""
    own = int(raw.execute(f"PRAGMA {name}").fetchone()[0])
    raw.execute(f"PRAGMA {name} = {int(value(own))}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA {name} = {own}")


class Batches:
    """Transactions of `txn()` that each span `per` uses (chunks of a large write): fewer commits and
    WAL checkpoints than one transaction a chunk, and still only whole chunks ever committed.

    `with batches() as conn:` runs one chunk; every `per`-th commits (`growing`: the first transaction
    holds one chunk, each next one twice as many, up to `per`, so a short write still commits early).
    An exception inside a chunk rolls back the open transaction (every chunk since the last commit) and
    then calls `on_rollback()`; `flush()` commits the open one (call it when the write ends, also on an
    error between chunks).
    """

    def __init__(self, txn: Callable[[], Any], per: int, *, growing: bool = False,
                 on_rollback: Callable[[], None] | None = None):
        self.txn, self.per, self.on_rollback = txn, per, on_rollback
        self._size = 1 if growing else per  # chunks the open (or next) transaction holds
        self._open: Any = None
        self._conn: Any = None
        self._used = 0

    @contextmanager
    def __call__(self) -> Iterator[Any]:
        if self._open is None:
            self._open = self.txn()
            self._conn = self._open.__enter__()
            self._used = 0
        try:
            yield self._conn
        except BaseException as exc:
            cm, self._open = self._open, None
            cm.__exit__(type(exc), exc, exc.__traceback__)
            if self.on_rollback is not None:
                self.on_rollback()
            raise
        self._used += 1
        if self._used >= self._size:
            self.flush()
            self._size = min(2 * self._size, self.per)

    @property
    def open(self) -> bool:
        """Whether a transaction is open (chunks written since the last commit)."""
        return self._open is not None

    def flush(self) -> None:
        if self._open is not None:
            cm, self._open = self._open, None
            cm.__exit__(None, None, None)
