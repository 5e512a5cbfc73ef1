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

It also keeps `leads.stages_entered`, every stage the lead's history shows (see
`stages_text`), which the reports read instead of grouping the history table.

`new_leads=True` says every row belongs to a lead created in the same transaction
(an import's new leads): no existing rows, so no read and no update.

`entered={}` hands the new `stages_entered` values (lead id → text, only those that
change) to a caller that writes its leads anyway, so they go into its one UPDATE of
those rows instead of a second one (engine/process.py); leads whose whole chain was
recomputed are written here still.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from sqlalchemy import bindparam, func, select

from . import bulk, in_parts, stays
from .models import Lead, StageChange

HISTORY = StageChange.__table__
LEADS = Lead.__table__
SEP = "\x1f"  # ASCII unit separator: a stage name written in a YAML file does not contain it
_COLUMNS = ("lead_id", "from_stage", "to_stage", "at", "cause", "detail", "batch_id")
_IN_CHUNK = 1000  # ids per IN list: well below every database's parameter limit




def stages_text(names: Iterable[str | None]) -> str | None:
    """`leads.stages_entered` for these stage names: each once, in the order given, between
    separators (`\x1fnew\x1fmql\x1f`), so "entered stage X" is a substring test."""
    unique = list(dict.fromkeys(n for n in names if n))
    return SEP + SEP.join(unique) + SEP if unique else None


def entered_stages(text: str | None) -> list[str]:
    """The stage names of a `stages_entered` value."""
    return [n for n in (text or "").split(SEP) if n]


def record_stage_changes(conn, rows: Sequence[dict[str, Any]], *, new_leads: bool = False,
                         entered: dict[int, str | None] | None = None) -> int:
    """Insert stage-history rows (dicts with lead_id, to_stage, at, cause and optionally
    from_stage, detail, batch_id) and keep `left_at` right; returns the number inserted.
    With `entered`, the leads' new `stages_entered` are put there for the caller to write."""
    if not rows:
        return 0
    # stage_stays (store/stays.py): a large batch is counted set-wise, not by a trigger per row written.
    with stays.counted_around(conn, [r["lead_id"] for r in rows]):
        return _record_stage_changes(conn, rows, new_leads=new_leads, entered=entered)


def _record_stage_changes(conn, rows: Sequence[dict[str, Any]], *, new_leads: bool,
                          entered: dict[int, str | None] | None) -> int:
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
        for part in in_parts(ids, _IN_CHUNK):
            stats = select(HISTORY.c.lead_id, func.max(HISTORY.c.at),
                           func.count() - func.count(HISTORY.c.left_at)
                           ).where(HISTORY.c.lead_id.in_(part)).group_by(HISTORY.c.lead_id)
            for lid, latest, open_rows in conn.execute(stats):
                if open_rows == 1 and latest <= first_at[lid]:
                    closes.append({"lid": lid, "left": first_at[lid]})
                else:
                    relink.append(lid)
    if closes:  # through store.bulk, as the rows below
        bulk.update_where(conn, HISTORY, [(c["left"], c["lid"]) for c in closes], ("left_at",), ("lead_id",),
                          null=("left_at",))
    bulk.insert(conn, HISTORY, out, (*_COLUMNS, "left_at"))
    if relink:
        relink_stage_history(conn, relink)  # recomputes their stages_entered too
    relinked = set(relink)
    _add_entered(conn, {lid: [out[p]["to_stage"] for p in positions]
                        for lid, positions in by_lead.items() if lid not in relinked}, fresh=new_leads, out=entered)
    return len(out)


def _add_entered(conn, names: dict[int, list[str]], *, fresh: bool, out: dict[int, str | None] | None) -> None:
    """Add stage names to the leads' `stages_entered` (`fresh`: nothing is stored yet); into `out`
    instead of the store when given."""
    current: dict[int, str | None] = {}
    if not fresh:
        for part in in_parts(names, _IN_CHUNK):
            current.update(conn.execute(select(LEADS.c.id, LEADS.c.stages_entered).where(LEADS.c.id.in_(part))).all())
    params = []
    for lid, new in names.items():
        old = current.get(lid)
        text = stages_text(entered_stages(old) + new)
        if text != old:
            params.append({"lid": lid, "entered": text})
    if out is not None:
        out.update((p["lid"], p["entered"]) for p in params)
        return
    _set_entered(conn, params)


def _set_entered(conn, params: list[dict[str, Any]]) -> None:
    if params:  # through store.bulk: SQLAlchemy's per-row parameter handling cost more than the UPDATEs
        bulk.update_by_id(conn, LEADS, [(p["entered"], p["lid"]) for p in params], ("stages_entered", "id"))


def relink_stage_history(conn, lead_ids: Iterable[int]) -> int:
    """Recompute `left_at` on every history row of these leads, and their `stages_entered`
    (after rows were moved, deleted or written out of order); returns the number of history
    rows changed."""
    ids = sorted(set(lead_ids))
    with stays.counted_around(conn, ids):
        return _relink(conn, ids)


def _relink(conn, ids: list[int]) -> int:
    total = 0
    for part in in_parts(ids, _IN_CHUNK):  # written part by part: a migration relinks every lead
        rows = conn.execute(select(HISTORY.c.id, HISTORY.c.lead_id, HISTORY.c.at, HISTORY.c.left_at, HISTORY.c.to_stage)
                            .where(HISTORY.c.lead_id.in_(part))
                            .order_by(HISTORY.c.lead_id, HISTORY.c.at, HISTORY.c.id)).all()
        changed: list[dict[str, Any]] = []
        names: dict[int, list[str]] = {lid: [] for lid in part}
        for i, (hid, lid, _at, left, stage) in enumerate(rows):
            nxt = rows[i + 1] if i + 1 < len(rows) else None
            want = nxt[2] if nxt is not None and nxt[1] == lid else None
            if want != left:
                changed.append({"hid": hid, "left": want})
            names[lid].append(stage)
        if changed:
            conn.execute(HISTORY.update().where(HISTORY.c.id == bindparam("hid")).values(left_at=bindparam("left")),
                         changed)
        _set_entered(conn, [{"lid": lid, "entered": stages_text(stages)} for lid, stages in names.items()])
        total += len(changed)
    return total
