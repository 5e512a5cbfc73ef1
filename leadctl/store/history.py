"""The one way stage-history rows are written: `record_stage_changes`.

    record_stage_changes(conn, [{"lead_id": 7, "from_stage": "new", "to_stage": "mql", "at": now,
                                 "cause": "rule", "detail": "...", "batch_id": None}, ...])

Besides inserting the rows it keeps `stage_history.left_at`: on every row, the `at` of
the lead's next row in (at, id) order, NULL on the latest — what the funnel's time in
stage reads instead of a window function over the whole table.

- Rows of one call are chained among themselves in Python (their ids follow list
  order, so (at, position) is their (at, id) order).
- For leads that already have history, one set-wise read finds each lead's latest
  `at` and open rows; the common case (one open row, not later than the new ones)
  is closed with one executemany UPDATE … WHERE lead_id = :lid AND left_at IS NULL
  before the insert.
- Anything else — a row dated before the lead's latest one, a lead whose rows came
  from a merge (two open rows), rows written before this column existed — gets its
  whole chain recomputed after the insert (`relink_stage_history`), which is also
  what to call after deleting or moving history rows.

`new_leads=True` says every row belongs to a lead created in the same transaction
(an import's new leads): no existing rows, so no read and no update.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from sqlalchemy import bindparam, func, select

from .models import StageChange

HISTORY = StageChange.__table__
_COLUMNS = ("lead_id", "from_stage", "to_stage", "at", "cause", "detail", "batch_id")
_IN_CHUNK = 1000  # ids per IN list: well below every database's parameter limit


def _chunks(values: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i:i + size]


def record_stage_changes(conn, rows: Sequence[dict[str, Any]], *, new_leads: bool = False) -> int:
    """Insert stage-history rows (dicts with lead_id, to_stage, at, cause and optionally
    from_stage, detail, batch_id) and keep `left_at` right; returns the number inserted."""
    if not rows:
        return 0
    out = [{c: r.get(c) for c in _COLUMNS} for r in rows]
    by_lead: dict[int, list[int]] = {}
    for pos, r in enumerate(out):
        by_lead.setdefault(r["lead_id"], []).append(pos)
    first_at: dict[int, Any] = {}
    for lid, positions in by_lead.items():
        positions.sort(key=lambda p: out[p]["at"])  # stable: equal times keep list (= id) order
        for a, b in zip(positions, positions[1:]):
            out[a]["left_at"] = out[b]["at"]
        out[positions[-1]]["left_at"] = None
        first_at[lid] = out[positions[0]]["at"]

    closes: list[dict[str, Any]] = []
    relink: list[int] = []
    if not new_leads:
        ids = list(by_lead)
        for part in _chunks(ids):
            stats = select(HISTORY.c.lead_id, func.max(HISTORY.c.at),
                           func.count() - func.count(HISTORY.c.left_at)
                           ).where(HISTORY.c.lead_id.in_(part)).group_by(HISTORY.c.lead_id)
            for lid, latest, open_rows in conn.execute(stats):
                if open_rows == 1 and latest <= first_at[lid]:
                    closes.append({"lid": lid, "left": first_at[lid]})
                else:
                    relink.append(lid)
    if closes:
        conn.execute(HISTORY.update().where(HISTORY.c.lead_id == bindparam("lid"), HISTORY.c.left_at.is_(None))
                     .values(left_at=bindparam("left")), closes)
    conn.execute(HISTORY.insert(), out)
    if relink:
        relink_stage_history(conn, relink)
    return len(out)


def relink_stage_history(conn, lead_ids: Iterable[int]) -> int:
    """Recompute `left_at` on every history row of these leads (after rows were moved,
    deleted or written out of order); returns the number of rows changed."""
    ids = sorted(set(lead_ids))
    changed: list[dict[str, Any]] = []
    for part in _chunks(ids):
        rows = conn.execute(select(HISTORY.c.id, HISTORY.c.lead_id, HISTORY.c.at, HISTORY.c.left_at)
                            .where(HISTORY.c.lead_id.in_(part))
                            .order_by(HISTORY.c.lead_id, HISTORY.c.at, HISTORY.c.id)).all()
        for i, (hid, lid, _at, left) in enumerate(rows):
            nxt = rows[i + 1] if i + 1 < len(rows) else None
            want = nxt[2] if nxt is not None and nxt[1] == lid else None
            if want != left:
                changed.append({"hid": hid, "left": want})
    if changed:
        conn.execute(HISTORY.update().where(HISTORY.c.id == bindparam("hid")).values(left_at=bindparam("left")),
                     changed)
    return len(changed)
