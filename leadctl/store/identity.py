"""A lead's identifiers (e-mail, external ids, LinkedIn profile, phone), kept in one table so every
identifier a lead was ever imported with keeps finding it."""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import select
from sqlalchemy.engine import Connection

from .tables import IDENTIFIERS, LEADS


def add_identifiers(conn: Connection, rows: Iterable[dict]) -> None:
    """Record identifiers: dicts with lead_id, kind, value, system, batch_id."""
    rows = list(rows)
    if rows:
        conn.execute(IDENTIFIERS.insert(), rows)


def backfill_identifiers(conn: Connection) -> None:
    """Record the identifiers of leads stored before the table existed."""
    t = LEADS
    out = []
    query = select(t.c.id, t.c.email, t.c.phone, t.c.external_id, t.c.attributes).where(t.c.erased_at.is_(None))
    for lid, email, phone, ext, attributes in conn.execute(query):
        if email:
            out.append({"lead_id": lid, "kind": "email", "value": email.casefold(), "system": "", "batch_id": None})
        if phone:
            out.append({"lead_id": lid, "kind": "phone", "value": phone, "system": "", "batch_id": None})
        if ext:
            out.append({"lead_id": lid, "kind": "external_id", "value": ext.casefold(), "system": "",
                        "batch_id": None})
        others = (attributes or {}).get("other_external_ids") if isinstance(attributes, dict) else None
        for other in str(others or "").split(", "):
            if other:
                out.append({"lead_id": lid, "kind": "external_id", "value": other.casefold(), "system": "",
                            "batch_id": None})
        if len(out) >= 5000:
            add_identifiers(conn, out)
            out = []
    add_identifiers(conn, out)
