"""Consent per channel (e-mail, phone, SMS): statuses, which task actions use which channel, `leads consent`.

Each lead has `consent_email`, `consent_phone` and `consent_sms` (granted | unknown |
opted_out | bounced; empty means unknown) and `consent`, a document of each channel's
reason and date. The old `do_not_contact` flag still means every channel is opted out.
A channel is allowed unless its status is opted_out or bounced (or the flag is set).

Plain data and SQL text at the top: the start-up path (`cli.fast`, engine.due) reads them
without SQLAlchemy.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

CHANNELS = ("email", "phone", "sms")
STATUSES = ("granted", "unknown", "opted_out", "bounced")
BLOCKED = ("opted_out", "bounced")
COLUMNS = {c: f"consent_{c}" for c in CHANNELS}

# Task action (lower case) → the channel it uses; other actions (meeting, demo …) need none.
ACTION_CHANNELS = {
    "email": "email", "email_sent": "email", "send_email": "email",
    "call": "phone", "phone": "phone", "phone_call": "phone",
    "sms": "sms", "text": "sms", "text_message": "sms",
}

# What export columns say, beyond yes/no (yes = opted out, no = nothing known): Mailchimp's
# status column (subscribed / unsubscribed / cleaned), HubSpot's "opted out" wording.
_WORDS = {
    "granted": "granted", "subscribed": "granted", "opted in": "granted", "opted-in": "granted",
    "opted_in": "granted", "unknown": "unknown", "pending": "unknown",
    "opted_out": "opted_out", "opted out": "opted_out", "opted-out": "opted_out", "unsubscribed": "opted_out",
    "bounced": "bounced", "cleaned": "bounced", "hard bounce": "bounced", "hard_bounce": "bounced",
}
_YES = {"yes", "y", "true", "t", "1", "x", "on", "✓", "✔"}
_NO = {"no", "n", "false", "f", "0", "off"}


def parse_status(value: str | None, *, bounced_column: bool = False) -> str | None:
    """An export cell → a status; yes means opted out (bounced for a bounce column), no means nothing known.

    Raises ValueError for anything else.
    """
    if value is None:
        return None
    t = value.strip().lower()
    if not t:
        return None
    if t in _YES:
        return "bounced" if bounced_column else "opted_out"
    if t in _NO:
        return None
    if t in _WORDS:
        return _WORDS[t]
    raise ValueError(f"not a consent status or yes/no: {value!r} (one of {', '.join(STATUSES)})")


def channel_of(action: str | None) -> str | None:
    """The channel a task action uses (`call` → phone), None when it uses none."""
    return ACTION_CHANNELS.get((action or "").strip().lower())


def status_of(lead: Mapping[str, Any], channel: str) -> str:
    """The lead's status on `channel`, the old do_not_contact flag counting as opted_out."""
    if lead.get("do_not_contact"):
        return "opted_out"
    return lead.get(COLUMNS[channel]) or "unknown"


def may_block(lead: Mapping[str, Any]) -> bool:
    """Whether any channel is blocked for `lead`: when not, `blocked_reason` is None for every action."""
    if lead.get("do_not_contact"):
        return True
    get = lead.get
    return get("consent_email") in BLOCKED or get("consent_phone") in BLOCKED or get("consent_sms") in BLOCKED


def blocked_reason(lead: Mapping[str, Any], action: str | None) -> str | None:
    """Why a task of `action` may not be done for `lead` ("email opted_out: asked by phone"), None when it may."""
    channel = channel_of(action)
    if channel is None:
        return None
    status = status_of(lead, channel)
    if status not in BLOCKED:
        return None
    why = ((lead.get("consent") or {}).get(channel) or {}).get("reason")
    if lead.get("do_not_contact") and not lead.get(COLUMNS[channel]):
        why = "do_not_contact"
    return f"{channel} {status}" + (f": {why}" if why else "")


def allowed_sql(f: str, lead: str) -> str:
    """A SQL condition (SQLite and PostgreSQL) that task `f`'s channel is allowed for its lead `lead`."""
    blocked = []
    for channel in CHANNELS:
        actions = ", ".join(f"'{a}'" for a, c in ACTION_CHANNELS.items() if c == channel)
        blocked.append(f"(LOWER({f}.action) IN ({actions}) AND (COALESCE({lead}.do_not_contact, false) = true "
                       f"OR COALESCE({lead}.{COLUMNS[channel]}, '') IN ('opted_out', 'bounced')))")
    return "NOT (" + " OR ".join(blocked) + ")"


# ---------------------------------------------------------------- `leads consent`
@dataclass
class ConsentChange:
    lead_id: int
    statuses: dict[str, str]       # every channel's status after the change
    changed: dict[str, str]        # the channels set, and their new status
    tasks_skipped: int             # pending tasks of a channel no longer allowed


def set_consent(store, ref: str, changes: Mapping[str, str], *, reason: str | None, now: datetime) -> ConsentChange:
    """`leads consent LEAD --email opted_out --reason …`: set channels' statuses, skip their pending tasks."""
    from sqlalchemy import select

    from ..errors import UsageError
    from ..store.tables import FOLLOWUPS as tasks, LEADS as leads
    from .leadref import resolve_lead

    if not changes:
        raise UsageError("no channel to set", hint="name one with its status, e.g. --email opted_out "
                                                        "(channels: email, phone, sms)")
    for channel, status in changes.items():
        if channel not in CHANNELS:
            raise UsageError(f"unknown channel {channel!r}", hint="channels: email, phone, sms")
        if status not in STATUSES:
            raise UsageError(f"unknown consent status {status!r} for {channel}",
                             hint="statuses: " + ", ".join(STATUSES))
    with store.begin() as conn:
        lead_id = resolve_lead(conn, ref)
        row = conn.execute(select(leads.c.consent, leads.c.do_not_contact,
                                  *(leads.c[c] for c in COLUMNS.values())).where(leads.c.id == lead_id)).one()
        doc = dict(row.consent or {})
        values: dict[str, Any] = {}
        for channel, status in changes.items():
            values[COLUMNS[channel]] = status
            doc[channel] = {"reason": reason, "at": now.isoformat(timespec="seconds")}
        values["consent"] = doc
        if row.do_not_contact and any(s not in BLOCKED for s in changes.values()):
            # The old flag blocks every channel: granting one turns it into per-channel statuses.
            values["do_not_contact"] = False
            for channel in CHANNELS:
                values.setdefault(COLUMNS[channel], "opted_out")
        values["updated_at"] = now
        conn.execute(leads.update().where(leads.c.id == lead_id).values(**values))
        lead = dict(conn.execute(select(leads).where(leads.c.id == lead_id)).one()._mapping)
        skipped = 0
        for t in conn.execute(select(tasks.c.id, tasks.c.action, tasks.c.note)
                              .where(tasks.c.lead_id == lead_id, tasks.c.status == "pending")).all():
            why = blocked_reason(lead, t.action)
            if why:
                note = (t.note + " | " if t.note else "") + f"skipped: {why}"
                conn.execute(tasks.update().where(tasks.c.id == t.id)
                             .values(status="skipped", completed_at=now, note=note))
                skipped += 1
    return ConsentChange(lead_id, {c: status_of(lead, c) for c in CHANNELS}, dict(changes), skipped)


_STRICTNESS = {"bounced": 3, "opted_out": 2, "granted": 1, "unknown": 0, None: 0}


def merged_consent(keep: Mapping[str, Any], other: Mapping[str, Any]) -> dict[str, Any]:
    """The consent columns KEEP takes in a merge: per channel the stricter status (an opt-out is never lost)."""
    values: dict[str, Any] = {}
    doc = dict(keep.get("consent") or {})
    for channel, col in COLUMNS.items():
        if _STRICTNESS.get(other.get(col), 0) > _STRICTNESS.get(keep.get(col), 0):
            values[col] = other[col]
            if (other.get("consent") or {}).get(channel):
                doc[channel] = other["consent"][channel]
    if values and doc != (keep.get("consent") or {}):
        values["consent"] = doc
    return values
