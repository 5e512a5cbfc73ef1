"""The store: tables, engine setup and migrations."""
from __future__ import annotations

from typing import Any, Iterable, Iterator, Sequence


def in_parts(values: Iterable[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    """`values` in parts of `size`, one IN list each: well below every database's parameter limit."""
    items = values if isinstance(values, (list, tuple)) else list(values)
    for i in range(0, len(items), size):
        yield items[i:i + size]
