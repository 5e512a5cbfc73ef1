"""The due list of `followups due` without SQLAlchemy: what a task shows, and the SQLite query.

`engine.followups` builds the same list with SQLAlchemy Core for every database (`due_tasks`);
the start-up path (`cli.fast`) runs `DUE_SQL` on an SQLite store with plain `sqlite3`,
so a cron job pays for neither SQLAlchemy nor the table classes. Tests hold the two equal.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .consent import allowed_sql


@dataclass
class DueTask:
    """One open task, as `followups due` and the reminder digest show it."""

    id: int
    lead_id: int
    lead: str
    owner: str | None
    action: str
    kind: str
    cadence: str | None
    step: int | None
    due_at: datetime
    due_local: str
    overdue: str       # "2h" / "3d" past due, "" when not yet due
    note: str | None = None


def lead_label(first, last, email, company, lead_id) -> str:
    """`Ada Lovelace <ada@x.com>`, or whatever part is known, or `lead 17`."""
    name = " ".join(p for p in (first, last) if p) or (company or "")
    if email:
        return f"{name} <{email}>" if name else f"<{email}>"
    return name or f"lead {lead_id}"


def overdue_text(due_at: datetime, now: datetime) -> str:
    """How long past due, coarsely: `5m`, `2h`, `3d`; empty when not past due."""
    late = now - due_at
    if late <= timedelta(0):
        return ""
    mins = int(late.total_seconds() // 60)
    if mins < 60:
        return f"{mins}m"
    if mins < 48 * 60:
        return f"{mins // 60}h"
    return f"{mins // 1440}d"


# engine.followups.due_select for SQLite, without an owner: pending tasks due by a bound, earliest first.
DUE_SQL = ("SELECT f.id, f.lead_id, f.owner, f.action, f.kind, f.cadence, f.step, f.due_at, f.note, "
           "l.first_name, l.last_name, l.email, l.company "
           "FROM followups AS f LEFT OUTER JOIN leads AS l ON l.id = f.lead_id "
           "WHERE f.status = 'pending' AND f.due_at {op} ? AND " + allowed_sql("f", "l")  # allowed channels only
           + " ORDER BY f.due_at, f.id")


def sqlite_time(value: datetime) -> str:
    """A naive-UTC datetime as the store's SQLite DateTime columns hold it (SQLAlchemy's format)."""
    return f"{value:%Y-%m-%d %H:%M:%S}.{value.microsecond:06d}"


def due_tasks_sqlite(con, calendars, now: datetime, *, until: datetime | None = None, overdue: bool = False,
                     limit: int | None = None) -> list[DueTask]:
    """`engine.followups.due_tasks` (without an owner) on a plain `sqlite3` connection."""
    sql = DUE_SQL.format(op="<" if overdue else "<=")
    params: list = [sqlite_time(now if overdue else (until or now))]
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    out = []
    parse = datetime.fromisoformat
    for (tid, lead_id, owner, action, kind, cadence, step, due_raw, note, first, last, email,
         company) in con.execute(sql, params):
        due_at = parse(due_raw)
        cal = calendars.for_owner(owner)
        out.append(DueTask(tid, lead_id, lead_label(first, last, email, company, lead_id), owner, action, kind,
                           cadence, step, due_at, cal.local_text(due_at), overdue_text(due_at, now), note))
    return out
