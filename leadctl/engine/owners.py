"""Owners: synced from routing.yaml into the store, with their load and availability.

    sync_owners(conn, rules)                  # insert/update listed owners, mark others removed
    rows = list_owners(conn, rules, now)      # one OwnerStatus per owner, for `leadctl owners list`

Decisions (the details docs/rules.md leaves open):

* An owner's *open load* is the number of leads they own whose stage is not of
  kind won/lost. It is counted with one grouped query.
* Away periods are calendar dates, inclusive at both ends, in the owner's own
  time zone: dana (Europe/Berlin) away 2026-12-20..2027-01-03 is away from
  2026-12-19 23:00 UTC until 2027-01-03 23:00 UTC.
* An owner removed from routing.yaml stays in the store with `removed = true`, so
  their history (assignments, breaches, reports) keeps its name. Putting them
  back in routing.yaml makes them current again.
* An owner named by a rule or the fallback but not listed under `owners:` — the
  usual `fallback: {owner: queue}` — is a *queue*: always available, no capacity
  limit, no team. It is not stored in the owners table.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Iterable

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection

from ..clock import naive_utc, to_local, zone
from ..store.tables import ASSIGNMENTS, LEADS, OWNERS

if TYPE_CHECKING:
    from ..rules.loader import RuleSet



def key(name: str | None) -> str:
    """How owner names and e-mails are compared: trimmed, inner spaces collapsed, case-folded."""
    return " ".join(str(name).split()).casefold() if name is not None else ""


def local_date(now: datetime, tz: str | None) -> date:
    """The calendar date at naive-UTC `now` in time zone `tz` (UTC when unknown)."""
    return to_local(naive_utc(now), zone(tz)).date()


def away_until(owner: Any, now: datetime) -> date | None:
    """The last day of the away period `owner` (a routing.yaml Owner) is in at `now`, else None."""
    today = local_date(now, owner.timezone)
    ends = [a.to for a in owner.away if a.from_ <= today <= a.to]
    return max(ends) if ends else None


def terminal_stages(rules: RuleSet) -> frozenset[str]:
    """Stage names of kind won or lost: leads there are not open."""
    return frozenset(rules.stages.won) | frozenset(rules.stages.lost)


def queue_names(rules: RuleSet) -> tuple[str, ...]:
    """Owners named by rules or the fallback but not listed under `owners:` (always-available queues)."""
    routing = rules.routing
    names: dict[str, str] = {}
    for assign in [r.assign for r in routing.rules] + [routing.fallback]:
        if assign is not None and assign.owner is not None and routing.owner(assign.owner) is None:
            names.setdefault(key(assign.owner), assign.owner)
    return tuple(names.values())


def open_loads(conn: Connection, rules: RuleSet) -> dict[str, int]:
    """Open (non-terminal) leads per owner name, in one grouped query."""
    terminal = sorted(terminal_stages(rules))
    stmt = select(LEADS.c.owner, func.count()).where(LEADS.c.owner.is_not(None))
    if terminal:
        stmt = stmt.where(LEADS.c.stage.not_in(terminal))
    stmt = stmt.group_by(LEADS.c.owner)
    return {owner: int(n) for owner, n in conn.execute(stmt)}


def _away_json(owner) -> list[dict[str, str]] | None:
    return [{"from": a.from_.isoformat(), "to": a.to.isoformat()} for a in owner.away] or None


def _row_values(owner) -> dict[str, Any]:
    return {
        "name": owner.name, "email": owner.email, "team": owner.team, "timezone": owner.timezone,
        "capacity": owner.capacity, "weight": float(owner.weight), "active": bool(owner.active),
        "away": _away_json(owner), "removed": False,
    }


@dataclass
class SyncResult:
    added: list[str]
    updated: list[str]
    removed: list[str]

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def sync_owners(conn: Connection, rules: RuleSet) -> SyncResult:
    """Make the owners table match routing.yaml: insert new owners, update changed ones,
    and mark owners no longer listed as removed (their rows stay, for history)."""
    stored = {key(r.name): dict(r._mapping) for r in conn.execute(select(OWNERS))}
    result = SyncResult([], [], [])
    listed = set()
    for owner in rules.routing.owners:
        k = key(owner.name)
        listed.add(k)
        values = _row_values(owner)
        row = stored.get(k)
        if row is None:
            conn.execute(OWNERS.insert().values(**values))
            result.added.append(owner.name)
            continue
        changes = {c: v for c, v in values.items() if _differs(row.get(c), v)}
        if changes:
            conn.execute(OWNERS.update().where(OWNERS.c.id == row["id"]).values(**changes))
            result.updated.append(owner.name)
    for k, row in stored.items():
        if k not in listed and not row["removed"]:
            conn.execute(OWNERS.update().where(OWNERS.c.id == row["id"]).values(removed=True))
            result.removed.append(row["name"])
    return result


def _differs(old: Any, new: Any) -> bool:
    if isinstance(new, float) and old is not None:
        return float(old) != new
    if isinstance(new, bool):
        return bool(old) != new
    return old != new


def stored_owners(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(select(OWNERS).order_by(OWNERS.c.name))]


@dataclass
class OwnerStatus:
    """One line of `leadctl owners list`."""

    name: str
    email: str | None
    team: str | None
    timezone: str | None
    capacity: int | None
    weight: float | None
    open: int
    availability: str      # available | full | away until YYYY-MM-DD | inactive | removed | queue
    available: bool        # can take a new lead at `now`
    last_assigned_at: datetime | None

    @property
    def load(self) -> str:
        """`12/40` (or `12` without a capacity)."""
        return f"{self.open}/{self.capacity}" if self.capacity is not None else str(self.open)


def availability(owner, open_count: int, now: datetime) -> tuple[str, bool]:
    """(`available` | `inactive` | `away until …` | `full`, can take a lead) for a routing.yaml Owner."""
    if not owner.active:
        return "inactive", False
    until = away_until(owner, now)
    if until is not None:
        return f"away until {until.isoformat()}", False
    if owner.capacity is not None and open_count >= owner.capacity:
        return "full", False
    return "available", True


def list_owners(conn: Connection, rules: RuleSet, now: datetime) -> list[OwnerStatus]:
    """Every owner — listed ones in routing.yaml order, then queues, then removed ones —
    with open load against capacity, availability at `now` and last assignment."""
    loads = {key(k): v for k, v in _merge_case(open_loads(conn, rules)).items()}
    stored = {key(r["name"]): r for r in stored_owners(conn)}
    out: list[OwnerStatus] = []
    seen = set()
    for owner in rules.routing.owners:
        k = key(owner.name)
        seen.add(k)
        n = loads.get(k, 0) + (loads.get(key(owner.email), 0) if owner.email else 0)
        text, ok = availability(owner, n, now)
        row = stored.get(k)
        out.append(OwnerStatus(owner.name, owner.email, owner.team, owner.timezone, owner.capacity,
                               float(owner.weight), n, text, ok,
                               naive_utc(row["last_assigned_at"]) if row else None))
    for name in queue_names(rules):
        k = key(name)
        seen.add(k)
        out.append(OwnerStatus(name, None, None, None, None, None, loads.get(k, 0), "queue", True,
                               _last_assignment(conn, name)))
    for k, row in sorted(stored.items()):
        if k in seen:
            continue
        out.append(OwnerStatus(row["name"], row["email"], row["team"], row["timezone"], row["capacity"],
                               row["weight"], loads.get(k, 0), "removed", False,
                               naive_utc(row["last_assigned_at"])))
    return out


def _merge_case(loads: dict[str, int]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for name, n in loads.items():
        merged[key(name)] = merged.get(key(name), 0) + n
    return merged


def _last_assignment(conn: Connection, name: str):
    value = conn.execute(select(func.max(ASSIGNMENTS.c.at)).where(ASSIGNMENTS.c.owner == name)).scalar()
    return naive_utc(value)


def touch_owners(conn: Connection, last: Iterable[tuple[str, datetime]]) -> None:
    """Record each owner's latest assignment time (one UPDATE per owner, not per lead)."""
    for name, at in last:
        conn.execute(OWNERS.update()
                     .where(and_(OWNERS.c.name == name,
                                 or_(OWNERS.c.last_assigned_at.is_(None), OWNERS.c.last_assigned_at < at)))
                     .values(last_assigned_at=at))
