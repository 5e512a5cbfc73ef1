"""Rows that share an identity value with another row of the import, kept on disk until every
file was read, then handed back in slices that never split a group of rows sharing a value.

    held = Deferred()
    held.add(row, raw_hashes(raw, headers))   # while reading
    for rows in held.slices(20_000):          # after the last file: whole groups, file order
        fold(rows)

A reading worker holds the rows it reads in a file `spill_file()` gave it (see `adopt`).

A group is every row reachable from another through a shared value (a person's rows, and
rows that only resemble each other, such as two people behind one switchboard phone): a
lead's result needs all of them in one fold, never more. Keeping them pickled in a temporary
file instead of in memory keeps an import's memory flat whatever share of a file repeats.
"""
from __future__ import annotations

import pickle
import tempfile
from typing import Any, Iterator


class Deferred:
    """Rows held back for the end-of-import fold (pickled in temporary files) and their value hashes.

    The rows may be in several files: `add` writes to this object's own file, and `adopt` takes rows a
    reading worker wrote to a file of `spill_file()` (the worker adds to its own Deferred over that file
    and hands over `held()`): the rows stay in the order they were added or adopted."""

    def __init__(self, file: Any = None) -> None:
        self._file: Any = file         # where `add` writes (a temporary file, made at the first add)
        self._own: int | None = None   # its index in _files
        self._files: list[Any] = []
        self._where: list[tuple[int, int]] = []  # every row: (file index, offset)
        self._hashes: list[list[int]] = []

    def __len__(self) -> int:
        return len(self._where)

    def add(self, row: Any, hashes: list[int]) -> None:
        """Hold `row` back; `hashes` are the values it shares (identity.raw_hashes)."""
        if self._own is None:
            self._file = self._file or tempfile.TemporaryFile()
            self._own = self._register(self._file)
        f = self._file
        f.seek(0, 2)
        self._where.append((self._own, f.tell()))
        pickle.dump(row, f, protocol=pickle.HIGHEST_PROTOCOL)
        self._hashes.append(hashes)

    def held(self) -> tuple[list[int], list[list[int]]]:
        """The offsets of the rows added here in this object's file, and their hashes (for `adopt`)."""
        if self._file is not None:
            self._file.flush()
        return [offset for _, offset in self._where], self._hashes

    def spill_file(self) -> tuple[int, Any]:
        """A new temporary file for another process's rows (closed with this object), and its number."""
        f = tempfile.TemporaryFile()
        return self._register(f), f

    def adopt(self, number: int, offsets: list[int], hashes: list[list[int]]) -> None:
        """Hold the rows at `offsets` of spill file `number` too, after those held so far."""
        self._where.extend((number, offset) for offset in offsets)
        self._hashes.extend(hashes)

    def slices(self, size: int) -> Iterator[list[Any]]:
        """The rows held, in slices of whole groups (at least `size` rows each but the last,
        unless one group is larger), each slice in the order the rows were added."""
        groups: dict[int, list[int]] = {}
        for i, root in enumerate(self._roots()):
            groups.setdefault(root, []).append(i)
        part: list[int] = []
        # groups in the order of their first row: a slice holds the earliest rows not yet folded
        for members in sorted(groups.values(), key=lambda m: m[0]):
            part.extend(members)
            if len(part) >= size:
                yield self._load(sorted(part))
                part = []
        if part:
            yield self._load(sorted(part))

    def close(self) -> None:
        for f in self._files:
            f.close()
        self._file, self._own, self._files, self._where, self._hashes = None, None, [], [], []

    def _register(self, f: Any) -> int:
        self._files.append(f)
        return len(self._files) - 1

    def _roots(self) -> list[int]:
        """For every row, a representative of its group (union-find over shared hashes)."""
        parent = list(range(len(self._where)))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        first: dict[int, int] = {}
        for i, hashes in enumerate(self._hashes):
            for h in hashes:
                j = first.setdefault(h, i)
                if j != i:
                    a, b = find(i), find(j)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
        return [find(i) for i in range(len(parent))]

    def _load(self, indexes: list[int]) -> list[Any]:
        files, where = self._files, self._where
        out = []
        for i in indexes:
            number, offset = where[i]
            f = files[number]
            f.seek(offset)
            out.append(pickle.load(f))
        return out
