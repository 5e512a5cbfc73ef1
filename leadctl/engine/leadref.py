"""Resolve the LEAD argument people type: an id, an e-mail (any case) or an external id.

    lead_id = resolve_lead(conn, "ada@example.com")   # -> 42, or NotFoundError

A number is tried as an id first, then as an external id (ids and external ids
can both look like `1001`); text with `@` is an e-mail; anything else an external
id. Erased leads can still be named by id.
"""
from __future__ import annotations

from sqlalchemy import func, select

from ..errors import NotFoundError
from ..store.models import Lead

LEADS = Lead.__table__


def resolve_lead(conn, ref: str | int) -> int:
    """The id of the lead `ref` names; NotFoundError when none (or several e-mails) match.

    `conn` is a Connection, or a Store (a connection is opened for the lookup).
    """
    if hasattr(conn, "engine") and hasattr(conn, "is_sqlite"):
        with conn.connect() as c:
            return resolve_lead(c, ref)
    text = str(ref).strip()
    if not text:
        raise NotFoundError("no lead given", hint="name a lead by id, e-mail or external id")
    c = LEADS.c
    if text.isdigit():
        row = conn.execute(select(c.id).where(c.id == int(text))).first()
        if row is not None:
            return row[0]
    if "@" in text:
        rows = conn.execute(select(c.id).where(func.lower(c.email) == text.lower()).order_by(c.id).limit(2)).all()
        if len(rows) == 1:
            return rows[0][0]
        if len(rows) > 1:
            raise NotFoundError(f"several leads have the e-mail {text}",
                                hint="name the lead by id (`leadctl leads list --search ...` shows ids)")
    rows = conn.execute(select(c.id).where(c.external_id == text).order_by(c.id).limit(2)).all()
    if len(rows) == 1:
        return rows[0][0]
    if len(rows) > 1:
        raise NotFoundError(f"several leads have the external id {text}", hint="name the lead by id")
    raise NotFoundError(f"no lead '{text}'", hint="name a lead by id, e-mail or external id")
