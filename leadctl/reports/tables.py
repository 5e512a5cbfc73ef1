"""Terminal tables that fit the terminal: low-priority columns give way, numbers are never cut.

    widths = fit([Column("Source", numeric=False, shrink=True), Column("Leads"), ...], cells, width=80)

`fit` returns each column's width, or None for a column left out. When the table
is too wide, in this order (as `gh` does): bar columns go first; then names
(`shrink` columns) are shortened, with an ellipsis, down to `min_width`; then the
columns with the highest `priority` number go, one at a time. Numbers are never
shortened: a column is either shown whole or not at all. Leftover width goes to
the bars, up to `bar_max`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

ELLIPSIS = "…"


@dataclass
class Column:
    header: str
    numeric: bool = True
    priority: int = 0      # 0: always shown; the highest number is left out first when space is short
    shrink: bool = False   # a name that may be shortened with "…" (never a number)
    min_width: int = 8     # how short a shrinking name may become
    bar: bool = False      # a picture (cells are fractions 0..1), shown only when there is room
    bar_min: int = 8
    bar_max: int = 24


def overhead(n: int) -> int:
    """Characters a boxed table with `n` columns spends besides cell text (borders and padding)."""
    return 3 * n + 1 if n else 0


def fit(columns: Sequence[Column], cells: Sequence[Sequence[Any]], width: int) -> list[int | None]:
    """Each column's width in a table at most `width` wide (None: left out)."""
    natural: list[int] = []
    for i, c in enumerate(columns):
        if c.bar:
            natural.append(c.bar_min)
        else:
            natural.append(max([len(c.header)] + [len(str(row[i])) for row in cells if row[i] is not None]))
    widths: list[int | None] = list(natural)

    def total() -> int:
        shown = [w for w in widths if w is not None]
        return sum(shown) + overhead(len(shown))

    while total() > width:
        excess = total() - width
        bars = [i for i, c in enumerate(columns) if c.bar and widths[i] is not None]
        if bars:
            widths[bars[-1]] = None
            continue
        shrinkable = [i for i, c in enumerate(columns)
                      if c.shrink and widths[i] is not None and widths[i] > max(c.min_width, len(c.header))]  # type: ignore[operator]
        if shrinkable:
            i = max(shrinkable, key=lambda k: widths[k])  # type: ignore[arg-type,return-value]
            floor = max(columns[i].min_width, len(columns[i].header))
            widths[i] = max(floor, widths[i] - excess)  # type: ignore[operator]
            continue
        droppable = [i for i, c in enumerate(columns) if c.priority > 0 and widths[i] is not None]
        if not droppable:
            break  # the essential columns alone are wider than the terminal: shown whole anyway
        widths[max(droppable, key=lambda k: (columns[k].priority, k))] = None
    spare = width - total()
    for i, c in enumerate(columns):
        if c.bar and widths[i] is not None and spare > 0:
            grow = min(spare, c.bar_max - c.bar_min)
            widths[i] = c.bar_min + grow
            spare -= grow
    return widths


def shorten(text: str, width: int) -> str:
    """`text` in at most `width` characters, ending in "…" when it was cut."""
    return text if len(text) <= width else text[:max(0, width - 1)] + ELLIPSIS
