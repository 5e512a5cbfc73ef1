"""Resolve the LEAD argument people type, unambiguously.

    lead_id = resolve_lead(conn, "ada@example.com")   # -> 42, or NotFoundError

A reference is an id, an e-mail (any case), an external id, or a LinkedIn profile URL;
`id:42` and `ext:42` say which one a number is. Every identifier a lead was ever
imported with finds it (a second e-mail, another system's id). A bare number that is
both one lead's id and another lead's external id is refused, naming both, rather than
guessed. Erased leads can still be named by id.
"""
from __future__ import annotations

from sqlalchemy import select

from ..errors import NotFoundError
from ..store.db import Store
from ..store.tables import IDENTIFIERS, LEADS

IDS = IDENTIFIERS
_HINT = "name a lead by id (id:42), e-mail, external id (ext:42) or LinkedIn profile URL"


def resolve_lead(conn, ref: str | int) -> int:
    """The id of the lead `ref` names; NotFoundError when none or several match.

    `conn` is a Connection, or a Store (a connection is opened for the lookup).
    """
    if isinstance(conn, Store):
        with conn.connect() as c:
            return resolve_lead(c, ref)
    text = str(ref).strip()
    if not text:
        raise NotFoundError("no lead given", hint=_HINT)
    prefix, sep, rest = text.partition(":")
    if sep and prefix.lower() == "id":
        if rest.strip().isdigit() and _by_id(conn, int(rest)) is not None:
            return int(rest)
        raise NotFoundError(f"no lead with id {rest.strip()}", hint=_HINT)
    if sep and prefix.lower() == "ext":
        return _one(conn, _by_external_id(conn, rest.strip()), f"external id {rest.strip()}")
    if "linkedin.com/" in text.lower():
        from ..ingest.normalize import BadValue, normalize_linkedin

        try:
            url = normalize_linkedin(text)
        except BadValue as exc:
            raise NotFoundError(str(exc), hint=_HINT) from None
        if url is None:
            raise NotFoundError(f"'{text}' is not a LinkedIn profile URL", hint=_HINT)
        return _one(conn, _by_value(conn, LEADS.c.linkedin, "linkedin", url), f"LinkedIn profile {url}")
    if "@" in text:
        email = text.casefold()
        return _one(conn, _by_value(conn, LEADS.c.email, "email", email), f"e-mail {text}")
    by_ext = _by_external_id(conn, text)
    if text.isdigit() and _by_id(conn, int(text)) is not None:
        others = [lid for lid in by_ext if lid != int(text)]
        if others:
            raise NotFoundError(
                f"'{text}' is lead {text}'s id and the external id of lead {', '.join(map(str, others))}"
                f": say id:{text} or ext:{text}",
                hint=f"say id:{text} or ext:{text}")
        return int(text)
    return _one(conn, by_ext, f"external id {text}")


def _by_id(conn, lead_id: int):
    return conn.execute(select(LEADS.c.id).where(LEADS.c.id == lead_id)).first()


def _by_value(conn, column, kind: str, value: str) -> list[int]:
    """Leads whose column holds the value, or that were imported with it (lead_identifiers)."""
    found = {lid for (lid,) in conn.execute(select(LEADS.c.id).where(column == value).limit(20))}
    found |= {lid for (lid,) in conn.execute(
        select(IDS.c.lead_id).where(IDS.c.kind == kind, IDS.c.value == value).limit(20))}
    return sorted(found)


def _by_external_id(conn, text: str) -> list[int]:
    found = {lid for (lid,) in conn.execute(
        select(LEADS.c.id).where(LEADS.c.external_id == text).limit(20))}
    found |= {lid for (lid,) in conn.execute(
        select(IDS.c.lead_id).where(IDS.c.kind == "external_id", IDS.c.value == text.casefold()).limit(20))}
    return sorted(found)


def _one(conn, ids: list[int], what: str) -> int:
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise NotFoundError(f"no lead with the {what}", hint=_HINT)
    raise NotFoundError(f"several leads have the {what}: {', '.join(map(str, ids))}",
                        hint="name one by id (id:N); `leadctl leads show id:N` shows who each is")


def describe_lead(conn, lead_id: int) -> str:
    """`lead 42 (Ada Lovelace <ada@example.com>)`: who a destructive command is about to act on."""
    if isinstance(conn, Store):
        with conn.connect() as c:
            return describe_lead(c, lead_id)
    c = LEADS.c
    row = conn.execute(select(c.first_name, c.last_name, c.email, c.company, c.erased_at)
                       .where(c.id == lead_id)).first()
    if row is None:
        return f"lead {lead_id}"
    if row.erased_at is not None:
        return f"lead {lead_id} (erased)"
    name = " ".join(p for p in (row.first_name, row.last_name) if p) or "no name"
    who = f"{name} <{row.email}>" if row.email else name
    return f"lead {lead_id} ({who}{', ' + row.company if row.company else ''})"
