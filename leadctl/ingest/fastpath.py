"""Bulk statements for the import's write path: compiled once, executed with plain tuples.

SQLAlchemy's executemany processes every parameter of every row in Python
(construct_params, one bind processor call per value): for a million leads that
is most of the write time. `BulkStatement` compiles a Core statement once for the
connection's dialect and, where parameters are positional (SQLite), hands the
DBAPI cursor ready tuples — each value converted by its column type's own bind
processor, so what is stored is exactly what `conn.execute(stmt, rows)` stores.
Elsewhere (PostgreSQL) it is that plain `conn.execute(stmt, rows)`.

    insert = BulkStatement(conn.dialect, table.insert(), ["email", "created_at"])
    insert.execute(conn, [{"email": "a@x.org", "created_at": now}, ...])
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Sequence

from sqlalchemy import DateTime

_PROBE = datetime(2001, 2, 3, 4, 5, 6, 7)


def _datetime_processor(slow: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """SQLite's DateTime bind processor for naive datetimes, at C speed.

    `isoformat(" ", "microseconds")` is SQLAlchemy's default SQLite storage format
    (`2026-11-20 10:00:00.000000`); it is used only if it gives the processor's own
    answer on a probe value, and anything but a naive datetime still goes to `slow`.
    """
    if slow(_PROBE) != _PROBE.isoformat(" ", "microseconds"):
        return slow

    def process(value, _dt=datetime, _slow=slow):
        if value is None:
            return None
        if type(value) is _dt and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return _slow(value)

    return process


class BulkStatement:
    """A statement for many rows of parameters named `keys` (dicts; a missing key is None)."""

    def __init__(self, dialect, stmt, keys: Sequence[str]):
        self.stmt = stmt
        self.keys = tuple(keys)
        self.sql: str | None = None
        if dialect.paramstyle != "qmark":
            return  # not positional: plain conn.execute
        compiled = stmt.compile(dialect=dialect, column_keys=list(self.keys))
        order = compiled.positiontup or []
        prefetch = {c.key: c for c in compiled.insert_prefetch + compiled.update_prefetch}
        processors = compiled._bind_processors
        plan: list[tuple[str | None, Any]] = []  # (key, None) from the row, or (None, constant)
        for name in order:
            if name in self.keys:
                plan.append((name, None))
                continue
            col = prefetch.get(name)
            default = getattr(col, "default", None)
            if default is None or not default.is_scalar:
                return  # a bind we cannot fill (a callable default, a literal): plain execute
            value = default.arg
            proc = processors.get(name)
            plan.append((None, proc(value) if proc else value))
        self._getters = plan
        self._process = []
        for i, name in enumerate(order):
            proc = processors.get(name)
            if proc is not None and plan[i][0] is not None:
                if isinstance(compiled.binds[name].type, DateTime):
                    proc = _datetime_processor(proc)
                self._process.append((i, proc))
        self.sql = compiled.string

    def execute(self, conn, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        if self.sql is None:
            keys = self.keys
            conn.execute(self.stmt, [{k: row.get(k) for k in keys} for row in rows])
            return
        conn.exec_driver_sql(self.sql, self.tuples(rows))

    def tuples(self, rows: Sequence[dict[str, Any]]) -> list[tuple]:
        """The rows as the positional parameter tuples the DBAPI cursor receives."""
        getters, process = self._getters, self._process
        out = []
        append = out.append
        for row in rows:
            get = row.get
            values = [get(k) if k is not None else c for k, c in getters]
            for i, proc in process:
                values[i] = proc(values[i])
            append(tuple(values))
        return out
