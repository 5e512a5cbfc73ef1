"""SQL that differs between SQLite and PostgreSQL, behind one name each.

Modules outside `store/` build their SQL from these and never ask which database
they are on: the constructs compile per dialect (`@compiles`), the functions that
run queries pick the statement for the connection's database.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Iterator, Sequence

from sqlalchemy import Float, Integer, Interval, func, literal, literal_column, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

__all__ = ["seconds_between", "seconds_within", "cohort_label", "json_object_keys",
           "percentile_cont", "report_tuning"]


# ---------------------------------------------------------------- time arithmetic

class seconds_between(FunctionElement):
    """SQL: seconds from `start` to `end` (both datetimes) as a float."""

    type = Float()
    name = "seconds_between"
    inherit_cache = True


@compiles(seconds_between)
def _seconds_default(element, compiler, **kw):
    start, end = list(element.clauses)
    return "EXTRACT(EPOCH FROM (%s - %s))" % (compiler.process(end, **kw), compiler.process(start, **kw))


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element, compiler, **kw):
    start, end = list(element.clauses)
    return "((julianday(%s) - julianday(%s)) * 86400.0)" % (compiler.process(end, **kw), compiler.process(start, **kw))


class _seconds_within(FunctionElement):
    # No Boolean type: SQLite would compare it with 1 (the expression is boolean already).
    name = "seconds_within"
    inherit_cache = True


def seconds_within(start, end, within: timedelta) -> ColumnElement[bool]:
    """SQL: `end` is surely no later than `within` after `start` (a borderline case may say no)."""
    # Both the interval and its whole seconds are bound; each dialect uses the one it can compare.
    return _seconds_within(start, end, literal(within, Interval()), literal(int(within.total_seconds()), Integer()))


@compiles(_seconds_within)
def _within_default(element, compiler, **kw):
    start, end, within, _secs = list(element.clauses)
    return "(%s <= %s + %s)" % (compiler.process(end, **kw), compiler.process(start, **kw),
                                compiler.process(within, **kw))


@compiles(_seconds_within, "sqlite")
def _within_sqlite(element, compiler, **kw):
    # Whole seconds, strictly below the deadline: surely in time; the caller decides the rest exactly.
    start, end, _within, secs = list(element.clauses)
    return "(CAST(strftime('%%s', %s) AS INTEGER) < CAST(strftime('%%s', %s) AS INTEGER) + %s)" % (
        compiler.process(end, **kw), compiler.process(start, **kw), compiler.process(secs, **kw))


class cohort_label(FunctionElement):
    """SQL: the creation cohort of a datetime: 'YYYY-MM' by month, the Monday 'YYYY-MM-DD' by week.

    `cohort_label(col, "week")` builds a `_week_label`, "month" a `_month_label`: one
    class per period so SQLAlchemy's statement cache tells them apart.
    """

    name = "cohort_label"
    inherit_cache = True
    by = "month"

    def __new__(cls, column=None, by: str = "month"):
        if cls is cohort_label:
            cls = _week_label if by == "week" else _month_label
        return super().__new__(cls)

    def __init__(self, column, by: str = "month"):
        super().__init__(column)


class _month_label(cohort_label):
    inherit_cache = True
    by = "month"


class _week_label(cohort_label):
    inherit_cache = True
    by = "week"


@compiles(cohort_label)
def _cohort_default(element, compiler, **kw):
    (col,) = list(element.clauses)
    text = compiler.process(col, **kw)
    if getattr(col.type, "timezone", False):
        text = f"({text} AT TIME ZONE 'UTC')"  # timestamptz: label in UTC whatever the session zone
    if element.by == "week":
        return f"to_char(date_trunc('week', {text}), 'YYYY-MM-DD')"
    return f"to_char({text}, 'YYYY-MM')"


@compiles(cohort_label, "sqlite")
def _cohort_sqlite(element, compiler, **kw):
    (col,) = list(element.clauses)
    text = compiler.process(col, **kw)
    if element.by == "week":
        # 'weekday 0' moves forward to Sunday (or stays); minus 6 days is that week's Monday.
        return f"strftime('%Y-%m-%d', {text}, 'weekday 0', '-6 days')"
    return f"strftime('%Y-%m', {text})"


# ---------------------------------------------------------------- queries

def json_object_keys(conn: Connection, column, where: ColumnElement[bool] | None = None, *,
                     yield_per: int = 5000) -> set[str]:
    """The distinct keys of the JSON objects in `column` over the rows of its table that `where` selects."""
    table = column.table
    name = conn.dialect.name
    if name == "sqlite":
        each = func.json_each(column).table_valued("key", "type").alias("each")
        stmt = (select(each.c.key).distinct().select_from(table).join(each, literal_column("1") == 1)
                .where(func.json_type(column) == "object"))
        if where is not None:
            stmt = stmt.where(where)
        return {str(k) for (k,) in conn.execute(stmt) if k is not None}
    if name == "postgresql":
        inner = select(column.label("a")).where(func.json_typeof(column) == "object")
        if where is not None:
            inner = inner.where(where)
        sub = inner.subquery()
        pg = select(func.json_object_keys(sub.c.a).label("k")).distinct()
        return {str(k) for (k,) in conn.execute(pg) if k is not None}
    # any other database: stream the one column
    plain = select(column)
    if where is not None:
        plain = plain.where(where)
    keys: set[str] = set()
    for (value,) in conn.execution_options(stream_results=True, yield_per=yield_per).execute(plain):
        if isinstance(value, dict):
            keys.update(value)
    return keys


Percentiles = tuple[float | None, ...]


def percentile_cont(conn: Connection, keys: Sequence[Any], value, qs: Sequence[float], *,
                    overall: bool) -> tuple[list[tuple[tuple, Percentiles]], Percentiles | None] | None:
    """`percentile_cont` of `value` at each of `qs` per `keys` (and over all rows when `overall`),
    NULLs left out, computed by the database; None when the database has no such function (SQLite)."""
    if conn.dialect.name != "postgresql":
        return None
    notnull = value.is_not(None)
    pcts = [func.percentile_cont(q).within_group(value) for q in qs]
    nk = len(keys)

    def floats(values) -> Percentiles:
        return tuple(None if v is None else float(v) for v in values)

    groups = ([(tuple(row[:nk]), floats(row[nk:]))
               for row in conn.execute(select(*keys, *pcts).where(notnull).group_by(*keys))] if keys else [])
    total = floats(conn.execute(select(*pcts).where(notnull)).one()) if overall else None
    return groups, total


# ---------------------------------------------------------------- connections

@contextmanager
def report_tuning(conn: Connection) -> Iterator[Connection]:
    """`conn` tuned for a report's large reads until the block ends (SQLite: temporary b-trees in memory).

    A report's GROUP BY over a million leads ran several times slower with temp files; the
    store's 64 MiB page cache is enough — a 256 MiB cache and memory-mapped reads were tried at
    1M leads: no faster, and `report sources` grew from 0.23 to 1.3 GB resident. The setting is
    put back before the connection returns to the pool.
    """
    if conn.dialect.name != "sqlite":
        yield conn
        return
    raw = conn.connection.dbapi_connection  # outside SQLAlchemy's transaction: temp_store needs that
    assert raw is not None

    def pragma(text):
        cur = raw.cursor()
        try:
            row = cur.execute(f"PRAGMA {text}").fetchone()
        finally:
            cur.close()
        return row[0] if row else None

    saved = pragma("temp_store")
    pragma("temp_store = MEMORY")
    try:
        yield conn
    finally:
        conn.rollback()  # reads only: end the transaction so the settings can go back
        pragma(f"temp_store = {int(saved)}")
