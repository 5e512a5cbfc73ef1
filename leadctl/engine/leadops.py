"""Operations on one lead: show it, merge two, forget a person (right to erasure)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select

from ..errors import UsageError
from ..fields import IDENTITY, MERGEABLE, PERSONAL
from ..store.db import Store, overwrite_deleted, truncate_log
from ..store.history import record_stage_changes
from ..store.identity import add_identifiers
from ..store.tables import (
    ACTIVITIES,
    ASSIGNMENTS,
    BATCH_CHANGES,
    DUPLICATE_MERGES,
    ERASURES,
    FOLLOWUPS,
    IDENTIFIERS,
    IMPORTED_ROWS,
    LEADS,
    POSSIBLE_DUPLICATES,
    SLA_BREACHES,
    STAGE_HISTORY,
)
from .leadref import resolve_lead

# Personal data erased by `forget` (the catalogue's `personal` fields); what stays (source, stage,
# times, scores, company facts such as industry and size) is what anonymous reports need.
PERSONAL_FIELDS = PERSONAL
_CHILD_TABLES = (STAGE_HISTORY, ACTIVITIES, ASSIGNMENTS, SLA_BREACHES, FOLLOWUPS)


def show_lead(store: Store, ref: str, *, activities: int = 20) -> dict[str, Any]:
    """Everything about a lead: profile, identifiers, possible duplicates, stage history, recent activities,
    open follow-ups, assignments."""
    leads = LEADS
    sh = STAGE_HISTORY
    act = ACTIVITIES
    fu = FOLLOWUPS
    asg = ASSIGNMENTS
    with store.connect() as conn:
        lead_id = resolve_lead(conn, ref)
        lead = dict(conn.execute(select(leads).where(leads.c.id == lead_id)).one()._mapping)
        lead["history"] = [dict(r._mapping) for r in conn.execute(
            select(sh.c.at, sh.c.from_stage, sh.c.to_stage, sh.c.cause, sh.c.detail)
            .where(sh.c.lead_id == lead_id).order_by(sh.c.at, sh.c.id))]
        lead["activities"] = [dict(r._mapping) for r in conn.execute(
            select(act.c.at, act.c.type, act.c.note, act.c.fields, act.c.source)
            .where(act.c.lead_id == lead_id).order_by(act.c.at.desc(), act.c.id.desc()).limit(activities))]
        lead["followups"] = [dict(r._mapping) for r in conn.execute(
            select(fu.c.id, fu.c.due_at, fu.c.action, fu.c.cadence, fu.c.step, fu.c.status, fu.c.owner)
            .where(fu.c.lead_id == lead_id, fu.c.status == "pending").order_by(fu.c.due_at))]
        lead["assignments"] = [dict(r._mapping) for r in conn.execute(
            select(asg.c.at, asg.c.owner, asg.c.reason).where(asg.c.lead_id == lead_id)
            .order_by(asg.c.at.desc(), asg.c.id.desc()).limit(5))]
        li, pd = IDENTIFIERS, POSSIBLE_DUPLICATES
        lead["identifiers"] = [dict(r._mapping) for r in conn.execute(
            select(li.c.kind, li.c.system, li.c.value).where(li.c.lead_id == lead_id).order_by(li.c.id))]
        lead["possible_duplicates"] = [
            {"lead": other, "reason": reason} for other, reason in conn.execute(
                select(pd.c.other_id, pd.c.reason).where(pd.c.lead_id == lead_id).union_all(
                    select(pd.c.lead_id, pd.c.reason).where(pd.c.other_id == lead_id)))]
        from .segments import segments_of  # rules/segments.yaml, as the last `process` found

        lead["segments"] = segments_of(conn, lead_id)
    return lead


def merge_leads(store: Store, keep_ref: str, other_ref: str, *, now: datetime) -> dict[str, Any]:
    """Merge OTHER into KEEP: KEEP's non-empty values win, OTHER fills the gaps, attributes are
    united, OTHER's history, activities, assignments and follow-ups move to KEEP, and OTHER goes.

    Returns {"kept": id, "removed": id, "filled": [fields]}.
    """
    with store.begin() as conn:
        keep_id = resolve_lead(conn, keep_ref)
        other_id = resolve_lead(conn, other_ref)
        if keep_id == other_id:
            raise UsageError("KEEP and OTHER are the same lead")
        return merge_into(conn, keep_id, other_id, now=now)


def merge_into(conn, keep_id: int, other_id: int, *, now: datetime) -> dict[str, Any]:
    """`merge_leads` inside the caller's transaction, on two lead ids (a duplicate plan merges many as one)."""
    t = LEADS
    keep = dict(conn.execute(select(t).where(t.c.id == keep_id)).one()._mapping)
    other = dict(conn.execute(select(t).where(t.c.id == other_id)).one()._mapping)
    values: dict[str, Any] = {}
    for col in MERGEABLE:  # KEEP's gaps; created_at (earliest) and do_not_contact (either) below
        if keep.get(col) in (None, "") and other.get(col) not in (None, ""):
            values[col] = other[col]
    if other.get("attributes"):
        attrs = {**other["attributes"], **(keep.get("attributes") or {})}
        if attrs != keep.get("attributes"):
            values["attributes"] = attrs
    if other["created_at"] < keep["created_at"]:
        values["created_at"] = other["created_at"]
    values["do_not_contact"] = bool(keep["do_not_contact"] or other["do_not_contact"])
    from .consent import merged_consent  # per channel the stricter status: an opt-out survives the merge

    values.update(merged_consent(keep, other))
    values["updated_at"] = now
    for ct in _CHILD_TABLES:
        conn.execute(ct.update().where(ct.c.lead_id == other_id).values(lead_id=keep_id))
    _keep_identifiers(conn, keep_id, other)
    # The other lead goes first: unique-looking keys (e-mail, phone) move to the survivor.
    # What batches recorded about it goes with it (ON DELETE CASCADE); everything else moved above.
    conn.execute(delete(t).where(t.c.id == other_id))
    conn.execute(t.update().where(t.c.id == keep_id).values(**values))
    # The moved rows interleave with KEEP's: recording the merge row relinks KEEP's whole history.
    record_stage_changes(conn, [dict(
        lead_id=keep_id, from_stage=keep["stage"], to_stage=keep["stage"], at=now, cause="merge",
        detail=f"merged lead {other_id}")])
    return {"kept": keep_id, "removed": other_id,
            "filled": sorted(k for k in values if k not in ("updated_at", "do_not_contact"))}


def _keep_identifiers(conn, keep_id: int, other: dict[str, Any]) -> None:
    """Every identifier of a merged-away lead keeps finding the survivor (`leads show OLD-ID`)."""
    li = IDENTIFIERS
    conn.execute(li.update().where(li.c.lead_id == other["id"]).values(lead_id=keep_id))
    ir = IMPORTED_ROWS  # rows imported into either lead stay imported
    conn.execute(ir.update().where(ir.c.lead_id == other["id"]).values(lead_id=keep_id))
    rows = [{"lead_id": keep_id, "kind": kind, "value": str(other[kind]).casefold(), "system": "", "batch_id": None}
            for kind in IDENTITY if other.get(kind)]
    add_identifiers(conn, rows)
    pd = POSSIBLE_DUPLICATES
    conn.execute(delete(pd).where(((pd.c.lead_id == keep_id) & (pd.c.other_id == other["id"]))
                                  | ((pd.c.lead_id == other["id"]) & (pd.c.other_id == keep_id))))
    conn.execute(pd.update().where(pd.c.lead_id == other["id"]).values(lead_id=keep_id))
    conn.execute(pd.update().where(pd.c.other_id == other["id"]).values(other_id=keep_id))


def forget_lead(store: Store, ref: str, *, now: datetime) -> dict[str, Any]:
    """Erase a person's personal data everywhere it is stored; keep anonymous facts for reports.

    Name, e-mail, phone, external id, free-text attributes, activity details, notes
    and the previous values kept for `batches undo` are erased; source, stage
    history, times and scores stay. An `erasures` row records that it happened (no
    personal data in it). On SQLite the freed bytes are overwritten (secure_delete)
    and the WAL is checkpointed and truncated, so the values are gone from the files.
    """
    with store.begin() as conn:
        overwrite_deleted(conn)
        lead_id = resolve_lead(conn, ref)
        done = forget_many(conn, [lead_id], now=now)[0]
    truncate_log(store)
    return done


def forget_many(conn, lead_ids: list[int], *, now: datetime) -> list[dict[str, Any]]:
    """`forget_lead` of many leads inside the caller's transaction, set-wise (`leads forget
    --inactive-since`); the caller overwrites freed bytes and truncates the log as forget_lead does.
    Returns one `{lead, fields_erased, activities_erased}` per lead."""
    t = LEADS
    act = ACTIVITIES
    fu = FOLLOWUPS
    bc = BATCH_CHANGES
    sh = STAGE_HISTORY
    pd = POSSIBLE_DUPLICATES
    ir = IMPORTED_ROWS  # hashes of the person's rows are the person's data too
    dm = DUPLICATE_MERGES
    out = []
    ids = sorted(set(lead_ids))
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        erased = {row.id: sum(1 for f in PERSONAL_FIELDS if row._mapping[f] not in (None, "", {}))
                  for row in conn.execute(select(t.c.id, *(t.c[f] for f in PERSONAL_FIELDS)).where(t.c.id.in_(part)))}
        activities = dict(conn.execute(select(act.c.lead_id, func.count()).where(act.c.lead_id.in_(part))
                                       .group_by(act.c.lead_id)).all())
        conn.execute(t.update().where(t.c.id.in_(part)).values(
            **{f: None for f in PERSONAL_FIELDS}, do_not_contact=True, erased_at=now, updated_at=now))
        conn.execute(act.update().where(act.c.lead_id.in_(part)).values(note=None, fields=None))
        conn.execute(fu.update().where(fu.c.lead_id.in_(part)).values(note=None))
        conn.execute(fu.update().where(fu.c.lead_id.in_(part), fu.c.status == "pending")
                     .values(status="cancelled", completed_at=now))
        conn.execute(bc.update().where(bc.c.lead_id.in_(part)).values(before=None, after=None))
        # Identifiers are the person's data; possible-duplicate notes name only what was shared.
        conn.execute(delete(IDENTIFIERS).where(IDENTIFIERS.c.lead_id.in_(part)))
        conn.execute(delete(pd).where(pd.c.lead_id.in_(part) | pd.c.other_id.in_(part)))
        conn.execute(delete(ir).where(ir.c.lead_id.in_(part)))
        conn.execute(sh.update().where(sh.c.lead_id.in_(part), sh.c.cause == "manual").values(detail=None))
        # What a duplicate merge kept to split the leads again (`batches undo`) is the person's data too.
        conn.execute(dm.update().where(dm.c.kept_id.in_(part) | dm.c.removed_id.in_(part)).values(
            removed=None, kept_before=None, kept_after=None, saved=None))
        rows = [{"lead_id": lid, "at": now, "fields_erased": erased[lid], "activities_erased": activities.get(lid, 0)}
                for lid in part if lid in erased]
        if rows:
            conn.execute(ERASURES.insert(), rows)
        out += [{"lead": r["lead_id"], "fields_erased": r["fields_erased"],
                 "activities_erased": r["activities_erased"]} for r in rows]
    return out

