"""The writes of one fold of an import: leads, their changes, identifiers, history, row hashes."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from ..store import bulk
from ..store.history import record_stage_changes
from ..store.identity import add_identifiers
from ..store.tables import BATCH_CHANGES, IMPORTED_ROWS, LEADS, POSSIBLE_DUPLICATES, STAGE_HISTORY
from .matching import IMPORTED

_UPDATABLE = tuple(IMPORTED) + ("email_domain", "stage", "stage_changed_at", "attributes")


_INSERT_COLUMNS = tuple(IMPORTED) + ("email_domain", "stage", "stage_changed_at", "stages_entered", "attributes",
                                     "updated_at", "batch_id", "flags")
_UPDATE_KEYS = ("id",) + _UPDATABLE + ("updated_at",)
_HISTORY_COLUMNS = ("lead_id", "from_stage", "to_stage", "at", "cause", "detail", "batch_id")


def write_fold(conn, batch_id: int | None, now: datetime, new, changed, before, stage_moves, identifiers, possible,
               folded) -> list[int]:
    """Write a fold's net effect: new leads, changed leads (with their before values), identifiers,
    possible duplicates, stage history and the rows' hashes. Returns the new leads' ids."""
    t = LEADS
    ids: dict[int, int] = {}
    if new:
        new_ids = bulk.insert_returning_ids(conn, t, list(new.values()), _INSERT_COLUMNS)
        ids.update(zip(new, new_ids))
    if changed:
        bulk.update_by_id(conn, t, [{"id": lid, **{c: values.get(c) for c in _UPDATABLE}, "updated_at": now}
                                    for lid, values in changed.items()], _UPDATE_KEYS)
        bulk.insert(conn, BATCH_CHANGES, [
            {"batch_id": batch_id, "lead_id": lid, "action": "updated", "before": _jsonable(b),
             "after": _jsonable({k: changed[lid].get(k) for k in b})}
            for lid, b in before.items()
        ], ("batch_id", "lead_id", "action", "before", "after"))
    real = lambda lid: ids.get(lid, lid)  # noqa: E731 - a new lead's id once written
    add_identifiers(conn, [{"lead_id": real(lid), "batch_id": batch_id, **item}
                           for lid, items in identifiers.items() for item in items])
    if possible:
        conn.execute(POSSIBLE_DUPLICATES.insert(), [
            {"lead_id": real(a), "other_id": real(b), "reason": why, "batch_id": batch_id,
             "created_at": now} for (a, b), why in possible.items()])
    detail = f"batch {batch_id}"
    # Every new lead enters the funnel: at its row's stage (when reached) or the first stage.
    # Its first history row is its only one (left_at stays NULL), so the bulk path serves.
    # (tuples in the order of the columns named: one row a lead, no dict per row)
    bulk.insert(conn, STAGE_HISTORY, [
        (ids[k], None, v["stage"], v["stage_changed_at"], "import", detail, batch_id) for k, v in new.items()],
        _HISTORY_COLUMNS)
    get = ids.get
    bulk.insert(conn, IMPORTED_ROWS, [(h, get(lid, lid), batch_id) for h, lid in folded.items()],
                ("hash", "lead_id", "batch_id"))
    # Existing leads that moved close their open history row: the one history writer does that.
    record_stage_changes(conn, [
        {"lead_id": lid, "from_stage": frm, "to_stage": to, "at": at or now, "cause": "import",
         "detail": detail, "batch_id": batch_id} for lid, frm, to, at in stage_moves])
    return list(ids.values())


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}
