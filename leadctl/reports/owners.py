"""Owners: load against capacity, speed of first response, SLA breaches, conversions.

- Owners are those of the owners table (not removed) plus every name found on
  leads or assignments; leads without an owner are the `(none)` row.
- `open_leads`: leads currently owned in a non-terminal stage — the load that
  capacity limits, so the creation window does not apply to it (the other
  filters do). `load_pct` = open / capacity.
- `leads`, `contacted`, `won`, `won_rate_pct`, `median_first_response_hours`:
  over the owned leads the filter selects (creation window included).
- `assigned`: assignments to the owner made inside the window; `sla_breaches`:
  breaches recorded inside the window — both for leads passing the other filters.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from sqlalchemy import and_, case, func, literal, select

from ..clock import naive_utc
from ..engine.leadquery import LEADS, LeadFilter, lead_conditions
from ..store.models import Assignment, Owner, SlaBreach
from .common import (
    NONE_LABEL,
    Funnel,
    StageInfo,
    filtered,
    first_contact_at,
    first_contacts,
    first_response_hours,
    grouped_percentiles,
    is_open,
    lead_facts,
    report_connection,
    with_first_contacts,
)
from .data import OwnerRow, OwnersReport, owners_report_from

__all__ = ["OwnerRow", "OwnersReport", "owners_report"]

OWNERS = Owner.__table__
ASSIGNMENTS = Assignment.__table__
BREACHES = SlaBreach.__table__


def _in_window(column, flt: LeadFilter):
    parts = []
    if flt.since is not None:
        parts.append(column >= naive_utc(flt.since))
    if flt.until is not None:
        parts.append(column < naive_utc(flt.until))
    return and_(*parts) if parts else literal(True)


def owners_report(store, stages: Sequence[StageInfo], flt: LeadFilter) -> OwnersReport:
    funnel = Funnel(stages)
    base, _depth, won = lead_facts(funnel)
    owner = func.coalesce(LEADS.c.owner, NONE_LABEL).label("owner")
    where = filtered(flt)
    timeless = replace(flt, since=None, until=None)
    others = and_(*lead_conditions(timeless)) if lead_conditions(timeless) else literal(True)

    contacts = first_contacts()
    per_owner = (select(owner, func.count().label("leads"),
                        func.sum(case((first_contact_at(contacts).is_not(None), 1), else_=0)).label("contacted"),
                        func.sum(case((won, 1), else_=0)).label("won"))
                 .select_from(with_first_contacts(base, contacts)).where(where).group_by(owner))
    open_stmt = select(owner, func.count()).where(others, is_open(funnel)).group_by(owner)
    lead_join = LEADS.c.id
    assigned = (select(ASSIGNMENTS.c.owner, func.count())
                .select_from(ASSIGNMENTS.join(LEADS, lead_join == ASSIGNMENTS.c.lead_id))
                .where(others, _in_window(ASSIGNMENTS.c.at, flt), ASSIGNMENTS.c.owner.is_not(None))
                .group_by(ASSIGNMENTS.c.owner))
    breach_owner = func.coalesce(BREACHES.c.owner, NONE_LABEL).label("owner")
    breaches = (select(breach_owner, func.count())
                .select_from(BREACHES.join(LEADS, lead_join == BREACHES.c.lead_id))
                .where(others, _in_window(BREACHES.c.breached_at, flt))
                .group_by(breach_owner))
    owners = select(OWNERS.c.name, OWNERS.c.team, OWNERS.c.capacity).where(OWNERS.c.removed.is_(False))
    response = (select(owner, first_response_hours(contacts).label("hours"))
                .select_from(with_first_contacts(LEADS, contacts)).where(where))
    with report_connection(store) as conn:
        stats = {r.owner: (r.leads, r.contacted, r.won) for r in conn.execute(per_owner)}
        open_by = dict(conn.execute(open_stmt).all())
        assigned_by = dict(conn.execute(assigned).all())
        breaches_by = dict(conn.execute(breaches).all())
        known = {r.name: (r.team, r.capacity) for r in conn.execute(owners)}
        medians = grouped_percentiles(conn, response, (0.5,), resolution=1 / 60)

    return owners_report_from(stats, open_by, assigned_by, breaches_by, known, medians, flt)
