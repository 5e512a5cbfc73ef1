"""Terminal tables that fit the terminal: low-priority columns give way, numbers are never cut.

    widths = fit([Column("Source", numeric=False, shrink=True), Column("Leads"), ...], cells, width=80)

`fit` returns each column's width, or None for a column left out. When the table
is too wide, in this order (as `gh` does): optional columns with nothing in them
go first, then bar columns; then long names
(`shrink` columns) are shortened, with an ellipsis, to 16 characters; then the
columns with the highest `priority` number go, one at a time; then names shorten
further, down to `min_width`. Numbers are never
shortened: a column is either shown whole or not at all. Leftover width goes to
the bars, up to `bar_max`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

ELLIPSIS = "…"
COMFORTABLE = 16  # a name is shortened to this before any column is left out, and further only after


@dataclass
class Column:
    header: str
    numeric: bool = True
    priority: int = 0      # 0: always shown; the highest number is left out first when space is short
    shrink: bool = False   # a name that may be shortened with "…" (never a number)
    min_width: int = 8     # how short a shrinking name may become
    bar: bool = False      # a picture (cells are fractions 0..1); without a priority, the first to go
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

    # An optional column with nothing in it (no spend anywhere) goes before anything is shortened.
    blank = [i for i, c in enumerate(columns) if c.priority > 0 and not c.bar
             and not any(str(row[i] or "").strip() for row in cells)]
    while total() > width and any(widths[i] is not None for i in blank):
        widths[max((i for i in blank if widths[i] is not None), key=lambda k: (columns[k].priority, k))] = None
    while total() > width:
        excess = total() - width
        bars = [i for i, c in enumerate(columns) if c.bar and not c.priority and widths[i] is not None]
        if bars:
            widths[bars[-1]] = None
            continue
        if _shrink(columns, widths, excess, COMFORTABLE):
            continue
        droppable = [i for i, c in enumerate(columns) if c.priority > 0 and widths[i] is not None]
        if droppable:
            widths[max(droppable, key=lambda k: (columns[k].priority, k))] = None
            continue
        if not _shrink(columns, widths, excess, 0):
            break  # the essential columns alone are wider than the terminal: shown whole anyway
    spare = width - total()
    for i, c in enumerate(columns):
        if c.bar and widths[i] is not None and spare > 0:
            grow = min(spare, c.bar_max - c.bar_min)
            widths[i] = c.bar_min + grow
            spare -= grow
    return widths


def _shrink(columns: Sequence[Column], widths: list[int | None], excess: int, comfortable: int) -> bool:
    """Shorten the widest name column by up to `excess`, not below its floor; False when none can shrink."""
    floors = {i: max(c.min_width, len(c.header), min(comfortable, natural))
              for i, (c, natural) in enumerate(zip(columns, widths)) if c.shrink and natural is not None}
    shrinkable = [i for i, floor in floors.items() if (widths[i] or 0) > floor]
    if not shrinkable:
        return False
    i = max(shrinkable, key=lambda k: widths[k] or 0)
    widths[i] = max(floors[i], (widths[i] or 0) - excess)
    return True


def shorten(text: str, width: int) -> str:
    """`text` in at most `width` characters, ending in "…" when it was cut."""
    return text if len(text) <= width else text[:max(0, width - 1)] + ELLIPSIS
