"""Bulk writes: many rows into one table, with every difference between databases kept here.

The rest of leadctl writes many rows through four functions and never asks which
database it is talking to:

    insert(conn, table, rows)                    # rows: dicts of column values
    ids = insert_returning_ids(conn, table, rows)  # the new rows' ids, from the database, in order
    update_by_id(conn, table, rows)              # rows: dicts with "id" and the columns to set
    update_where(conn, table, rows, sets, where)   # rows: tuples, UPDATE … WHERE other columns match

The seam. Everywhere but SQLite these are SQLAlchemy's own `conn.execute(stmt, rows)`
(PostgreSQL with psycopg: plain inserts go through `COPY … FROM STDIN` on the DB-API
connection, `conn.connection.driver_connection`). On SQLite SQLAlchemy's per-row parameter
processing costs more than the write itself, so the statement text is built here and the
rows go to the DB-API cursor's `executemany` through `conn.exec_driver_sql`, each value
converted as SQLAlchemy's SQLite types convert it: a datetime becomes the text its
DateTime stores (`2026-11-20 10:00:00.000000`), JSON `json.dumps` of the value (None
too, as SQLAlchemy's JSON type does), a bool 0/1. Any other type is converted by its own
public `bind_processor`. tests/store/test_bulk.py checks that what is stored is
byte-identical to what `conn.execute(table.insert(), rows)` stores, for every column.

Ids. SQLite gives a new row the rowid one above the table's largest
(https://sqlite.org/autoinc.html). `insert_returning_ids` inserts the first row with
`INSERT … RETURNING id`, which takes the database's one write lock for the transaction;
when that row is then the table's largest, the other rows get the next ids, in order — the
ids SQLite would have given them — in one `executemany` that names them. Otherwise (a table
whose largest rowid is already the largest possible, where SQLite picks free rowids at
random) it runs `INSERT … VALUES (…), (…), … RETURNING id`, a few hundred rows per
statement: SQLite does not promise the order of RETURNING rows, but it inserts the VALUES
rows in order inside one statement, so the ids returned, sorted, are the rows' ids in order
when they are consecutive; when they are not, those rows are inserted one statement per row.
"""
from __future__ import annotations

import json
from datetime import date, datetime
from itertools import chain, repeat
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import JSON, Boolean, DateTime, Table
from sqlalchemy.engine import Connection

_Convert = Callable[[Any], Any] | None


# ---------------------------------------------------------------- what is asked of the database
def is_sqlite(conn: Connection) -> bool:
    """Whether `conn` talks to SQLite (the one place outside db.py that asks)."""
    return conn.dialect.name == "sqlite"


def insert(conn: Connection, table: Table, rows: Sequence[Any], keys: Sequence[str] | None = None) -> None:
    """Insert `rows`: dicts (a key a row lacks is None), or tuples in the order of `keys`.

    A column neither `keys` nor any row names takes its default.
    """
    if not rows:
        return
    rows, keys, given = _shape(table, rows, keys)
    if is_sqlite(conn):
        plan = _plan(conn, table, keys)
        conn.exec_driver_sql(plan.sql, plan.tuples(rows, given))
        return
    if given is not None:
        rows = [dict(zip(given, r)) for r in rows]
    if _copyable(conn):
        _copy(conn, table, keys, rows)
    else:
        conn.execute(table.insert(), _dicts(table, keys, rows))


def insert_returning_ids(conn: Connection, table: Table, rows: Sequence[Any],
                         keys: Sequence[str] | None = None) -> list[int]:
    """Insert `rows` (as for `insert`, without ids) and return their new ids, from the database, in row order."""
    if not rows:
        return []
    rows, keys, given = _shape(table, rows, keys)
    keys = [k for k in keys if k != "id"]
    if not is_sqlite(conn):
        if given is not None:
            rows = [dict(zip(given, r)) for r in rows]
        res = conn.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True),
                           _dicts(table, keys, rows))
        return [i for (i,) in res.all()]
    plan = _plan(conn, table, keys)
    params = plan.tuples(rows, given)
    # The first row as SQLite numbers it, which takes the write lock; when nothing stands above it,
    # the others get the next ids in order, as SQLite would give them, in one executemany (no
    # RETURNING, no statement of hundreds of rows: ~17% less of SQLite's time for leads).
    first = conn.exec_driver_sql(plan.values_returning_sql(1), tuple(params[0])).scalar_one()
    out: list[int] = [first]
    rest = params[1:]
    if not rest:
        return out
    top = conn.exec_driver_sql(f"SELECT max(rowid) FROM {plan.table}").scalar()
    if top == first and first + len(rest) <= _MAX_ROWID:
        ids = range(first + 1, first + 1 + len(rest))
        conn.exec_driver_sql(_plan(conn, table, ["id", *keys]).sql, [(i, *p) for i, p in zip(ids, rest)])
        out.extend(ids)
        return out
    per = max(1, min(500, _variable_limit(conn) // max(1, len(plan.columns))))
    params = rest
    for start in range(0, len(params), per):
        part = params[start:start + per]
        flat = list(chain.from_iterable(part))
        got = sorted(i for (i,) in conn.exec_driver_sql(plan.values_returning_sql(len(part)), tuple(flat)))
        if len(got) == len(part) and got[-1] - got[0] == len(got) - 1:
            out.extend(got)
            continue
        # Not consecutive: SQLite chose free rowids itself; the order of these rows is not
        # known, so delete them and insert row by row (rare: the table's rowids ran out).
        conn.exec_driver_sql(f"DELETE FROM {plan.table} WHERE rowid IN ({', '.join('?' * len(got))})", tuple(got))
        for p in part:
            out.append(conn.exec_driver_sql(plan.values_returning_sql(1), tuple(p)).scalar_one())
    return out


def update_by_id(conn: Connection, table: Table, rows: Sequence[Any], keys: Sequence[str] | None = None) -> None:
    """`UPDATE table SET k = … WHERE id = :id` for every row (dicts, or tuples in the order of `keys`),
    the same columns in each."""
    if not rows:
        return
    rows, keys, given = _shape(table, rows, keys)
    keys = [k for k in keys if k != "id"]
    if is_sqlite(conn):
        plan = _plan(conn, table, keys, update=True)
        conn.exec_driver_sql(plan.sql, plan.tuples(rows, given))
        return
    from sqlalchemy import bindparam

    if given is not None:
        rows = [dict(zip(given, r)) for r in rows]

    stmt = table.update().where(table.c.id == bindparam("_id")).values({k: bindparam(k) for k in keys})
    conn.execute(stmt, [{"_id": r["id"], **{k: r.get(k) for k in keys}} for r in rows])


def update_where(conn: Connection, table: Table, rows: Sequence[Sequence[Any]], sets: Sequence[str],
                 where: Sequence[str], *, null: Sequence[str] = ()) -> None:
    """`UPDATE table SET s = … WHERE w = … [AND n IS NULL]` once per row: tuples of the `sets`
    values, then the `where` values (every `null` column must be NULL too)."""
    if not rows:
        return
    keys = [*sets, *where]
    if is_sqlite(conn):
        plan = _plan(conn, table, keys, update=True, where=where, null=null)
        conn.exec_driver_sql(plan.sql, plan.tuples(rows, keys))
        return
    from sqlalchemy import and_, bindparam

    cond = and_(*(table.c[w] == bindparam(f"_w_{w}") for w in where), *(table.c[n].is_(None) for n in null))
    stmt = table.update().where(cond).values({s: bindparam(s) for s in sets})
    names = [*sets, *(f"_w_{w}" for w in where)]
    conn.execute(stmt, [dict(zip(names, r)) for r in rows])


# ---------------------------------------------------------------- SQLite: statements and values
class _Plan:
    """The statement text and value converters for one table and one list of columns."""

    def __init__(self, conn: Connection, table: Table, keys: Sequence[str], *, update: bool = False,
                 where: Sequence[str] = ("id",), null: Sequence[str] = ()):
        quote = conn.dialect.identifier_preparer.quote
        self.table = quote(table.name)
        if update:  # SET every key, WHERE each `where` column = the last values (and each `null` column IS NULL)
            sets = [k for k in keys if k not in where]
            self.columns = sets + list(where)
            constants: dict[str, Any] = {}
            conditions = [f"{quote(c)} = ?" for c in where] + [f"{quote(c)} IS NULL" for c in null]
            self.sql = (f"UPDATE {self.table} SET {', '.join(f'{quote(c)} = ?' for c in sets)} "
                        f"WHERE {' AND '.join(conditions)}")
        else:  # the keys, then the columns no key names that have a scalar default
            defaults = _scalar_defaults(table)
            self.columns = list(keys) + [c for c in defaults if c not in keys]
            constants = {c: defaults[c] for c in self.columns[len(keys):]}
            self._row = "(" + ", ".join("?" * len(self.columns)) + ")"
            self._head = f"INSERT INTO {self.table} ({', '.join(quote(c) for c in self.columns)}) VALUES "
            self.sql = self._head + self._row
        self._keys = self.columns[:len(self.columns) - len(constants)]
        convert = [converter(table.c[c].type, conn.dialect) for c in self.columns]
        self._constants = tuple(f(constants[c]) if f else constants[c]
                                for c, f in zip(self.columns[len(self._keys):], convert[len(self._keys):]))
        self._convert = [(i, f) for i, f in enumerate(convert[:len(self._keys)]) if f is not None]

    def values_returning_sql(self, n: int) -> str:
        """INSERT of `n` rows in one statement, returning their ids."""
        return self._head + ", ".join([self._row] * n) + " RETURNING id"

    def tuples(self, rows: Sequence[Any], keys: Sequence[str] | None = None) -> list[tuple]:
        """The rows (dicts, or tuples in the order of `keys`) as the DB-API cursor's parameter tuples."""
        # Column by column: one conversion pass per column (datetimes once per distinct value)
        # costs far less than a Python-level loop over every cell of every row.
        n = len(rows)
        if keys is None:
            if all(type(row) is dict for row in rows):  # plain dicts: dict.get mapped over them, at C speed
                cols: list[Any] = [list(map(dict.get, rows, repeat(c, n))) for c in self._keys]
            else:
                cols = [[row.get(c) for row in rows] for c in self._keys]
        else:
            given = list(keys)
            by_position: list[Any] = list(zip(*rows))
            if len(by_position) < len(given):  # a row shorter than `keys`: index it as before, to fail the same way
                by_position = [[row[i] for row in rows] for i in range(len(given))]
            cols = [by_position[given.index(c)] for c in self._keys]
        for i, f in self._convert:
            cols[i] = _column(f, cols[i])
        cols.extend(repeat(v, n) for v in self._constants)
        if not cols:
            return [()] * n
        return list(zip(*cols))


_PLANS: dict[tuple, _Plan] = {}
_MAX_ROWID = 2 ** 63 - 1


def _plan(conn: Connection, table: Table, keys: Sequence[str], *, update: bool = False,
          where: Sequence[str] = ("id",), null: Sequence[str] = ()) -> _Plan:
    key = (table, tuple(keys), update, tuple(where), tuple(null), conn.dialect.name)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _PLANS[key] = _Plan(conn, table, keys, update=update, where=where, null=null)
    return plan


def converter(type_, dialect) -> _Convert:
    """How a value of a column of `type_` is handed to SQLite's DB-API (None: as it is)."""
    if isinstance(type_, DateTime):
        return _datetime_text
    if isinstance(type_, JSON):
        return _json_text
    if isinstance(type_, Boolean):
        return _bool_int
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _datetime_text(value: Any, _dt=datetime, _memo: dict = {}) -> Any:  # noqa: B006 - a deliberate cache
    """SQLAlchemy's SQLite DateTime storage format; the same times repeat (`now`), so remembered."""
    if value is None:
        return None
    if type(value) is _dt and value.tzinfo is None:
        out = _memo.get(value)
        if out is None:
            out = value.isoformat(" ", "microseconds")
            if len(_memo) < 4096:
                _memo[value] = out
        return out
    if isinstance(value, datetime):  # aware: SQLite's DateTime stores the wall time, no offset
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day).isoformat(" ", "microseconds")
    raise TypeError("SQLite DateTime type only accepts Python datetime and datetime.date objects as input.")


_JSON = json.JSONEncoder()  # json.dumps' own defaults: the same text for every value


def _json_encoder() -> Callable[[Any], str]:
    """`_JSON.encode`, or the same C encoder built once instead of per value (~1 µs a small document
    instead of ~2.8). Without the circular-reference check: stored values are trees (parsed or built)."""
    from json import encoder

    make = getattr(encoder, "c_make_encoder", None)
    if make is None:
        return _JSON.encode
    e = _JSON
    chunks = make(None, e.default, encoder.encode_basestring_ascii, e.indent, e.key_separator, e.item_separator,
                  e.sort_keys, e.skipkeys, e.allow_nan)
    join = "".join
    return lambda value: join(chunks(value, 0))


_encode_json = _json_encoder()


def _json_text(value: Any) -> str:
    return _encode_json(value)


def _bool_int(value: Any) -> int | None:
    if value is None:
        return None
    if value is True or value is False or value in (0, 1):
        return int(value)
    raise TypeError(f"Not a boolean value: {value!r}")


_BOOLS = {None: None, True: 1, False: 0}  # 1 and 0 (and 1.0, 0.0) find the same entries, as `in (0, 1)` does
_NAIVE = frozenset({datetime, type(None)})


def _column(f: Callable[[Any], Any], values: Sequence[Any]) -> list[Any]:
    """`[f(v) for v in values]`, with the common converters taking shortcuts that give the same values."""
    if f is _datetime_text:
        if set(map(type, values)) <= _NAIVE:
            # The same times repeat (`now`, a batch's dates): each distinct one is formatted once.
            # Only naive datetimes: equal aware ones can differ in wall time, hence in text.
            memo = dict.fromkeys(values)
            if not any(v is not None and v.tzinfo is not None for v in memo):
                for v in memo:
                    if v is not None:
                        memo[v] = v.isoformat(" ", "microseconds")
                return list(map(memo.__getitem__, values))
        return list(map(f, values))
    if f is _json_text:
        # A document shared by many rows (process stores one explanation per distinct outcome)
        # is encoded once: `values` holds every object for the whole call, so ids are not reused.
        encode = _encode_json
        texts: dict[int, str] = {}
        out = []
        append = out.append
        for v in values:
            if v is None:
                append("null")
                continue
            t = texts.get(id(v))
            if t is None:
                t = texts[id(v)] = encode(v)
            append(t)
        return out
    if f is _bool_int:
        try:
            return list(map(_BOOLS.__getitem__, values))
        except (KeyError, TypeError):
            pass  # something else: the converter says what
    return list(map(f, values))


def _variable_limit(conn: Connection) -> int:
    """How many `?` one SQLite statement may hold (250,000 on current builds; 999 on old ones)."""
    raw = conn.connection.driver_connection
    try:
        import sqlite3

        return int(raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    except (AttributeError, ImportError):  # Python < 3.11
        return 999


# ---------------------------------------------------------------- PostgreSQL: COPY
def _copyable(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"


def _copy(conn: Connection, table: Table, keys: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
    """COPY the rows in (same transaction): an order of magnitude faster than INSERTs on PostgreSQL."""
    defaults = _scalar_defaults(table)
    cols = list(keys) + [c for c in defaults if c not in keys]
    json_cols = {i for i, c in enumerate(cols) if isinstance(table.c[c].type, JSON)}
    quote = conn.dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in cols)}) FROM STDIN"
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy(sql) as copy:
            for r in rows:
                values = [r.get(c) for c in keys] + [defaults[c] for c in cols[len(keys):]]
                for i in json_cols:
                    values[i] = json.dumps(values[i])
                copy.write_row(values)


# ---------------------------------------------------------------- shared
def _shape(table: Table, rows: Sequence[Any], keys: Sequence[str] | None
           ) -> tuple[Sequence[Any], list[str], list[str] | None]:
    """(rows, the columns written, the order of a tuple row's values or None for dict rows)."""
    if not isinstance(rows[0], Mapping):
        if keys is None:
            raise TypeError("rows given as tuples need their keys")
        return rows, list(keys), list(keys)
    if keys is not None:
        return rows, list(keys), None
    seen: dict[str, None] = {}
    for row in rows:
        for k in row:
            seen.setdefault(k, None)
    return rows, [k for k in seen if k in table.c], None


def _dicts(table: Table, keys: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows for `conn.execute`: every key present (missing → None), defaults where no key names a column."""
    return [{k: r.get(k) for k in keys} for r in rows]


def _scalar_defaults(table: Table) -> dict[str, Any]:
    """The Python-side scalar defaults of the table's columns (`status` → 'pending')."""
    out = {}
    for c in table.columns:
        d = c.default
        if d is not None and getattr(d, "is_scalar", False):
            out[c.name] = d.arg
    return out
