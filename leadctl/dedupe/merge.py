"""Apply a reviewed merge plan as one batch, and undo that batch.

Each merge goes through `engine.leadops.merge_into` (history, activities, tasks, assignments,
identifiers and imported rows move to the survivor). Before it, everything the merge changes
or deletes is recorded in `duplicate_merges`, so `batches undo` puts the merged lead back with
its own id, rows and values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select

from ..clock import utcnow
from ..engine.leadops import merge_into
from ..errors import NotFoundError
from ..fields import BY_NAME
from ..store.db import Store
from ..store.history import relink_stage_history
from ..store.tables import (
    ACTIVITIES,
    ASSIGNMENTS,
    BATCH_CHANGES,
    BATCHES,
    DUPLICATE_MERGES,
    FOLLOWUPS,
    IDENTIFIERS,
    IMPORTED_ROWS,
    LEADS,
    NOT_DUPLICATES,
    POSSIBLE_DUPLICATES,
    SLA_BREACHES,
    STAGE_HISTORY,
)
from .plan import Group

# The child tables whose rows move from the merged lead to the survivor (by row id).
_MOVED = {"stage_history": STAGE_HISTORY, "activities": ACTIVITIES, "assignments": ASSIGNMENTS,
          "sla_breaches": SLA_BREACHES, "followups": FOLLOWUPS, "lead_identifiers": IDENTIFIERS}
# Columns of `leads` the merge may change on the survivor (what undo compares and restores).
_BOOKKEEPING = ("id", "updated_at", "processed", "stages_entered", "stage_changed_at")


@dataclass
class ApplyResult:
    """What applying a plan did."""

    batch: int
    merged: int = 0
    groups: int = 0
    not_duplicates: int = 0
    survivors: list[int] = field(default_factory=list)


def _json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def _from_json(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        f = BY_NAME.get(k)
        typed = f is not None and f.type == "datetime"
        out[k] = datetime.fromisoformat(v) if typed and isinstance(v, str) else v
    return out


def _lead(conn, lead_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(LEADS).where(LEADS.c.id == lead_id)).first()
    return dict(row._mapping) if row is not None else None


def apply_plan(store: Store, groups: list[Group], *, now: datetime, files: str) -> ApplyResult:
    """Merge every group's `merge` leads into its survivor and remember its `not_duplicate` pairs,
    all in one transaction and one batch (kind `merge`) that `batches undo` reverts."""
    from ..ingest.batches import start_batch

    with store.begin() as conn:
        _check_leads(conn, groups)
        batch_id = start_batch(conn, "merge", files, {"groups": len(groups)})
        result = ApplyResult(batch=batch_id, groups=len(groups))
        for g in groups:
            result.not_duplicates += _remember(conn, g, now)
            if not g.merge:
                continue
            before = _lead(conn, g.survivor)
            assert before is not None
            chosen = {f: c.value for f, c in g.fields.items() if c.value is not None}
            if chosen:
                conn.execute(LEADS.update().where(LEADS.c.id == g.survivor).values(**chosen))
            for other in g.merge:
                _merge_one(conn, batch_id, g.survivor, other, before, now)
                before = _lead(conn, g.survivor)
                assert before is not None
                result.merged += 1
            result.survivors.append(g.survivor)
        conn.execute(BATCHES.update().where(BATCHES.c.id == batch_id).values(
            status="complete", finished_at=utcnow(), read=len(groups), merged=result.merged,
            message=f"{result.merged} leads merged in {result.groups} groups; "
                    f"{result.not_duplicates} pairs marked not duplicate"))
    return result


def _check_leads(conn, groups: list[Group]) -> None:
    """Every lead a plan names exists and still has its data (NotFoundError naming the group)."""
    for g in groups:
        ids = [g.survivor, *g.merge, *g.not_duplicate]
        found = {lid: erased for lid, erased in conn.execute(
            select(LEADS.c.id, LEADS.c.erased_at).where(LEADS.c.id.in_(ids)))}
        for lid in ids:
            if lid not in found:
                raise NotFoundError(f"{g.where or f'group {g.number}'}: no lead {lid} (merged or deleted since "
                                    "the plan was written?)", hint="write a new plan with `leads duplicates --plan`")
            if found[lid] is not None and lid in (g.survivor, *g.merge):
                raise NotFoundError(f"{g.where or f'group {g.number}'}: lead {lid} was erased (forget)",
                                    hint="take it out of the plan")


def _remember(conn, g: Group, now: datetime) -> int:
    """Record each not_duplicate lead against every other lead of its group."""
    nd = NOT_DUPLICATES
    members = [g.survivor, *g.merge, *g.not_duplicate]
    pairs = {(min(a, b), max(a, b)) for a in g.not_duplicate for b in members if a != b}
    if not pairs:
        return 0
    have = {(a, b) for a, b in conn.execute(select(nd.c.lead_id, nd.c.other_id).where(
        nd.c.lead_id.in_([p[0] for p in pairs])))}
    new = [{"lead_id": a, "other_id": b, "at": now} for a, b in sorted(pairs - have)]
    if new:
        conn.execute(nd.insert(), new)
    return len(new)


def _merge_one(conn, batch_id: int, keep: int, other: int, before: dict[str, Any], now: datetime) -> None:
    removed = _lead(conn, other)
    assert removed is not None
    moved: dict[str, list[Any]] = {}
    for name, t in _MOVED.items():
        moved[name] = list(conn.execute(select(t.c.id).where(t.c.lead_id == other)).scalars())
    moved["imported_rows"] = list(conn.execute(
        select(IMPORTED_ROWS.c.hash).where(IMPORTED_ROWS.c.lead_id == other)).scalars())
    pd = POSSIBLE_DUPLICATES
    saved = {
        "batch_changes": [_json(dict(r._mapping)) for r in conn.execute(
            select(BATCH_CHANGES).where(BATCH_CHANGES.c.lead_id == other))],
        "possible_duplicates": [_json(dict(r._mapping)) for r in conn.execute(
            select(pd).where((pd.c.lead_id == other) | (pd.c.other_id == other)))],
    }
    top_ident = conn.execute(select(func.max(IDENTIFIERS.c.id))).scalar() or 0
    top_history = conn.execute(select(func.max(STAGE_HISTORY.c.id))).scalar() or 0
    merge_into(conn, keep, other, now=now)
    moved["added_identifiers"] = list(conn.execute(select(IDENTIFIERS.c.id).where(
        IDENTIFIERS.c.lead_id == keep, IDENTIFIERS.c.id > top_ident)).scalars())
    moved["merge_history"] = list(conn.execute(select(STAGE_HISTORY.c.id).where(
        STAGE_HISTORY.c.lead_id == keep, STAGE_HISTORY.c.id > top_history)).scalars())
    after = _lead(conn, keep)
    assert after is not None
    changed = [k for k in after if k not in _BOOKKEEPING and _json({k: after[k]}) != _json({k: before[k]})]
    conn.execute(DUPLICATE_MERGES.insert().values(
        batch_id=batch_id, kept_id=keep, removed_id=other, at=now, removed=_json(removed),
        kept_before=_json({k: before[k] for k in changed}), kept_after=_json({k: after[k] for k in changed}),
        moved=moved, saved=saved))


# ---------------------------------------------------------------- undo
def undo_merge_batch(conn, batch: dict[str, Any], result, now: datetime) -> None:
    """Split every merge of the batch, newest first, into `result` (ingest.batches.UndoResult):
    the merged leads come back with their ids and rows; the survivor's fields the merge changed go
    back where nothing changed them since (else they are kept and listed as conflicts)."""
    from ..ingest.batches import Conflict, FieldChange

    dm = DUPLICATE_MERGES
    records = [dict(r._mapping) for r in conn.execute(
        select(dm).where(dm.c.batch_id == batch["id"]).order_by(dm.c.id.desc()))]
    for rec in records:
        keep, other = rec["kept_id"], rec["removed_id"]
        if rec["removed"] is None:  # erased since (forget): nothing of that person to bring back
            continue
        current = _lead(conn, keep)
        if current is None:  # merged again or forgotten since: its rows live elsewhere now
            result.conflicts.append(Conflict(keep, "lead", None, f"lead {other} stays merged: its survivor "
                                                                 f"{keep} was merged or deleted since"))
            continue
        if _lead(conn, other) is not None:  # SQLite gives a deleted highest id to the next new lead
            result.conflicts.append(Conflict(keep, "lead", None, f"lead {other} stays merged: a lead created "
                                                                 "since has its id"))
            continue
        conn.execute(LEADS.insert().values(**_from_json(rec["removed"])))
        moved = rec["moved"] or {}
        for name, t in _MOVED.items():
            for part in _parts(moved.get(name, [])):
                conn.execute(t.update().where(t.c.id.in_(part), t.c.lead_id == keep).values(lead_id=other))
        for part in _parts(moved.get("imported_rows", [])):
            conn.execute(IMPORTED_ROWS.update().where(IMPORTED_ROWS.c.hash.in_(part)).values(lead_id=other))
        for part in _parts(moved.get("added_identifiers", [])):
            conn.execute(delete(IDENTIFIERS).where(IDENTIFIERS.c.id.in_(part)))
        for part in _parts(moved.get("merge_history", [])):
            conn.execute(delete(STAGE_HISTORY).where(STAGE_HISTORY.c.id.in_(part)))
        saved = rec["saved"] or {}
        _put_back(conn, POSSIBLE_DUPLICATES, saved.get("possible_duplicates", []))
        _put_back(conn, BATCH_CHANGES, saved.get("batch_changes", []))
        relink_stage_history(conn, [keep, other])
        before, after = _from_json(rec["kept_before"] or {}), _from_json(rec["kept_after"] or {})
        values = {}
        for k, v in before.items():
            if _json({k: current.get(k)}) == _json({k: after.get(k)}):
                values[k] = v
                result.restored.append(FieldChange(keep, k, current.get(k), v))
            else:
                result.conflicts.append(Conflict(keep, k, current.get(k), "changed since the merge"))
        if values:
            conn.execute(LEADS.update().where(LEADS.c.id == keep).values(**values, updated_at=now))
        result.recreated.append(other)
        result.affected.update((keep, other))
    conn.execute(delete(dm).where(dm.c.batch_id == batch["id"]))
    conn.execute(BATCHES.update().where(BATCHES.c.id == batch["id"]).values(
        status="undone", message="undo: " + result.describe()))


def _put_back(conn, table, rows: list[dict[str, Any]]) -> None:
    """Saved rows back as they were: updated where their id still exists, inserted where it went."""
    for row in rows:
        row = {k: (datetime.fromisoformat(v) if k in ("created_at", "at") and isinstance(v, str) else v)
               for k, v in row.items()}
        exists = conn.execute(select(table.c.id).where(table.c.id == row["id"])).first()
        if exists:
            conn.execute(table.update().where(table.c.id == row["id"]).values(**row))
        else:
            conn.execute(table.insert().values(**row))


def _parts(items: list[Any], size: int = 500):
    for i in range(0, len(items), size):
        yield items[i:i + size]
