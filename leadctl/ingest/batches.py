"""Import batches: list, show, and undo (delete created leads, restore updated fields)."""
from __future__ import annotations

import os
import socket
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from ..clock import utcnow
from ..errors import LeadctlError, NotFoundError
from ..store import models
from ..store.db import Store
from ..store.history import relink_stage_history

# Tables whose rows belong to a lead and go when the lead goes.
_LEAD_CHILDREN = (models.StageChange, models.Activity, models.Assignment, models.SlaBreach, models.Followup)
_DATETIME_FIELDS = {"created_at", "last_activity_at", "last_contacted_at", "stage_changed_at", "updated_at"}


def list_batches(store: Store, limit: int | None = None) -> list[dict[str, Any]]:
    b = models.Batch.__table__
    q = select(b).order_by(b.c.id.desc())
    if limit:
        q = q.limit(limit)
    with store.connect() as conn:
        return [_describe(dict(r._mapping)) for r in conn.execute(q)]


def get_batch(store: Store, batch_id: int) -> dict[str, Any]:
    b = models.Batch.__table__
    with store.connect() as conn:
        row = conn.execute(select(b).where(b.c.id == batch_id)).first()
    if row is None:
        raise NotFoundError(f"no batch {batch_id}", hint="`leadctl batches` lists them")
    return _describe(dict(row._mapping))


def _describe(batch: dict[str, Any]) -> dict[str, Any]:
    # A batch still "running" when nobody is importing was stopped mid-way (killed, power cut).
    if batch["status"] == "running":
        batch["status"] = "running or incomplete"
        opts = batch.get("options") or {}
        if opts.get("host") == socket.gethostname() and isinstance(opts.get("pid"), int) \
                and not _alive(opts["pid"]):
            batch["status"] = "incomplete (killed)"
    return batch


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: it exists
        return True
    return True


def undo_batch(store: Store, batch_id: int) -> dict[str, int]:
    """Revert a batch: delete the leads it created, restore the fields it updated.

    Returns counts {"deleted": n, "restored": n}.
    """
    b = models.Batch.__table__
    leads = models.Lead.__table__
    bc = models.BatchChange.__table__
    with store.begin() as conn:
        batch = conn.execute(select(b).where(b.c.id == batch_id)).first()
        if batch is None:
            raise NotFoundError(f"no batch {batch_id}", hint="`leadctl batches` lists them")
        if batch.status == "undone":
            raise LeadctlError(f"batch {batch_id} was already undone")
        created = select(leads.c.id).where(leads.c.batch_id == batch_id).scalar_subquery()
        for model in _LEAD_CHILDREN:
            t = model.__table__
            conn.execute(delete(t).where(t.c.lead_id.in_(created)))
        deleted = conn.execute(delete(leads).where(leads.c.batch_id == batch_id)).rowcount
        restored = 0
        changes = conn.execute(select(bc.c.lead_id, bc.c.before).where(
            bc.c.batch_id == batch_id, bc.c.action == "updated").order_by(bc.c.id.desc())).all()
        for lead_id, before in changes:
            values = {k: _from_json(k, v) for k, v in (before or {}).items()}
            if values:
                values["updated_at"] = utcnow()
                restored += conn.execute(leads.update().where(leads.c.id == lead_id).values(**values)).rowcount
        sh = models.StageChange.__table__
        conn.execute(delete(sh).where(sh.c.batch_id == batch_id))
        # The batch's stage moves are gone: the leads' earlier rows are open again.
        relink_stage_history(conn, [lead_id for lead_id, _ in changes])
        conn.execute(b.update().where(b.c.id == batch_id).values(status="undone"))
    return {"deleted": deleted, "restored": restored}


def _from_json(key: str, value: Any) -> Any:
    if key in _DATETIME_FIELDS and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value
