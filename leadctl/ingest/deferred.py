"""Rows that share an identity value with another row of the import, kept on disk until every
file was read, then handed back in slices that never split a group of rows sharing a value.

    held = Deferred()
    held.add(row, raw_hashes(raw, headers))   # while reading
    for rows in held.slices(20_000):          # after the last file: whole groups, file order
        fold(rows)

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
    """Rows held back for the end-of-import fold (pickled in a temporary file) and their value hashes."""

    def __init__(self) -> None:
        self._file: Any = None
        self._offsets: list[int] = []
        self._hashes: list[list[int]] = []

    def __len__(self) -> int:
        return len(self._offsets)

    def add(self, row: Any, hashes: list[int]) -> None:
        """Hold `row` back; `hashes` are the values it shares (identity.raw_hashes)."""
        if self._file is None:
            self._file = tempfile.TemporaryFile()
        self._file.seek(0, 2)
        self._offsets.append(self._file.tell())
        pickle.dump(row, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self._hashes.append(hashes)

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
        if self._file is not None:
            self._file.close()
            self._file = None
        self._offsets, self._hashes = [], []

    def _roots(self) -> list[int]:
        """For every row, a representative of its group (union-find over shared hashes)."""
        parent = list(range(len(self._offsets)))

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
        f = self._file
        out = []
        for i in indexes:
            f.seek(self._offsets[i])
            out.append(pickle.load(f))
        return out
