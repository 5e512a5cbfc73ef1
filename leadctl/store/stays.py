"""`stage_stays`: stage-history rows counted per stage and stay, kept by triggers (SQLite only).

The funnel's time in stage is a percentile over every stage-history row: a closed row's
stay (`at` → `left_at`) in hour steps, an open row's stay until `now`. On a million rows
computing each stay is most of `report funnel` (about a second); this table holds the
same rows counted, so the report reads a few thousand counts instead:

- closed rows (`left_at` set): `kind` 'c', `bucket` the stay in hour steps, worked out by
  the same SQL expression the report uses (`STEP_SQL`), so the counts are exact;
- open rows: `kind` 'o', `bucket` the hour of `at` (`substr(at, 1, 13)`): their stay
  depends on `now`, so the report resolves the few hours that straddle a percentile with
  an exact query over those rows (reports.lite).

Triggers on stage_history keep it whoever writes (the history writer, an import's first
rows, undo, merge, a cascade from a deleted lead). PostgreSQL computes the percentiles in
the database and has neither the table nor the triggers.

    install(conn)      # create the table and triggers (idempotent) and count every row
    drop_triggers(conn)  # for a large load (store.indexes.built_after): install() counts again after it
    installed(conn)    # whether the store has them
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterable, Iterator

from . import in_parts

if TYPE_CHECKING:  # the start-up path (reports.lite) imports this module without SQLAlchemy
    from sqlalchemy.engine import Connection

TABLE = "stage_stays"
# A closed row's stay in hour steps, as reports.funnel / reports.lite compute it: the same double
# arithmetic (1.0 / 24 is Python's 1 / 24, the step they bind), so the same step.
STEP_SQL = ("round((((julianday({row}.left_at) - julianday({row}.at)) * 86400.0) / (86400.0 + 0.0)) "
            "/ ((1.0 / 24) + 0.0))")
_BUCKET = ("CASE WHEN {row}.left_at IS NULL THEN 'o' ELSE 'c' END",
           "CASE WHEN {row}.left_at IS NULL THEN substr({row}.at, 1, 13) ELSE " + STEP_SQL + " END")


def _add(row: str, n: int) -> str:
    kind, bucket = (part.format(row=row) for part in _BUCKET)
    return (f"INSERT INTO {TABLE} (to_stage, kind, bucket, n) SELECT {row}.to_stage, {kind}, {bucket}, {n} "
            f"WHERE {bucket} IS NOT NULL "
            "ON CONFLICT (to_stage, kind, bucket) DO UPDATE SET n = n + excluded.n;")


_DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (to_stage TEXT NOT NULL, kind TEXT NOT NULL, bucket NOT NULL, "
    "n INTEGER NOT NULL, PRIMARY KEY (to_stage, kind, bucket)) WITHOUT ROWID",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_insert AFTER INSERT ON stage_history BEGIN {_add('NEW', 1)} END",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_delete AFTER DELETE ON stage_history BEGIN {_add('OLD', -1)} END",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_update AFTER UPDATE OF to_stage, at, left_at ON stage_history "
    f"BEGIN {_add('OLD', -1)} {_add('NEW', 1)} END",
)


def install(conn: Connection) -> None:
    """Create the table and its triggers and count every stage-history row (SQLite; elsewhere nothing)."""
    if conn.dialect.name != "sqlite":
        return
    for sql in _DDL:
        conn.exec_driver_sql(sql)
    conn.exec_driver_sql(f"DELETE FROM {TABLE}")
    conn.exec_driver_sql(_counted(1))


BATCH = 200  # leads: from here counting their rows out and in beats a trigger per row written (~30 µs a change)
_IN_CHUNK = 1000


@contextmanager
def counted_around(conn: Connection, lead_ids: Iterable[int]) -> Iterator[None]:
    """Around writes to the stage history of these leads only (store.history): for a large batch the
    triggers are set aside and the leads' rows counted out before and in after (two GROUP BYs in the
    same transaction); a small batch, another database or a store without the triggers keeps them."""
    ids = sorted(set(lead_ids))
    if len(ids) < BATCH or conn.dialect.name != "sqlite" or not installed(conn):
        yield
        return
    _count(conn, ids, -1)
    drop_triggers(conn)
    try:
        yield
    finally:  # whatever was written is counted (a failed transaction rolls all of it back)
        for sql in _DDL[1:]:
            conn.exec_driver_sql(sql)
        _count(conn, ids, 1)


def _count(conn: Connection, ids: list[int], sign: int) -> None:
    for part in in_parts(ids, _IN_CHUNK):
        conn.exec_driver_sql(_counted(sign, f"h.lead_id IN ({', '.join('?' * len(part))})"), tuple(part))


def _counted(sign: int, where: str = "1") -> str:
    """Add `sign` × the stage-history rows (of `where`) to their (stage, kind, bucket) counts."""
    kind, bucket = (part.format(row="h") for part in _BUCKET)
    return (f"INSERT INTO {TABLE} (to_stage, kind, bucket, n) SELECT h.to_stage, {kind}, {bucket}, {sign} * count(*) "
            f"FROM stage_history AS h WHERE {where} AND {bucket} IS NOT NULL "
            "GROUP BY 1, 2, 3 ON CONFLICT (to_stage, kind, bucket) DO UPDATE SET n = n + excluded.n")


def drop_triggers(conn: Connection) -> None:
    """Stop counting (a large load: a trigger per row costs more than counting again); `install` resumes."""
    if conn.dialect.name != "sqlite":
        return
    for name in ("insert", "delete", "update"):
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {TABLE}_{name}")


def installed(con) -> bool:
    """Whether the store keeps `stage_stays` (a DB-API connection or a SQLAlchemy one, SQLite)."""
    sql = f"SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE '{TABLE}_%'"
    run = getattr(con, "exec_driver_sql", None) or con.execute
    return run(sql).fetchone()[0] == 3
