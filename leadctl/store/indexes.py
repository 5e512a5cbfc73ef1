"""Secondary indexes built after a large write instead of kept up to date row by row.

The first import of a big export into a small store inserts far more rows than the store
holds: SQLite then spends more time keeping the report and history indexes in order than
writing the rows. `built_after(store, rows)` drops the indexes that no import query reads
(`AFTER_LOAD`), and creates them again when the load ends (done, failed or interrupted).
The indexes an import reads (e-mail, phone, external id, identifiers, a lead's history,
imported-row hashes) stay in place. Only on SQLite; other databases keep every index.

`set_aside(begin, names)` is the same for any large write: `process` over most of a big
store sets aside the leads' indexes over the columns it writes (`written_by`) while its
chunks run (engine/process.py).

Which indexes are away is recorded in `meta` (key `indexes_after_load.<pid>`, one per writing
process, so an import and a `process` at once each build back their own; an older store's
record is `indexes_after_load`): a store whose writing process was killed is given them
back when it is next opened (`restore_if_abandoned`, from store.db's open), so no store
stays without them.
"""
from __future__ import annotations

import json
import os
import socket
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, Sequence

from sqlalchemy import Index, or_, select, text
from sqlalchemy.engine import Connection

from . import models, pragma_while, stays

# Indexes no query of an import reads: reports, routing, SLA and undo read them, and `process` and
# the sweep read ix_leads_processed (every lead a load writes has it NULL). ix_stage_history_reach
# stays: it is the history's one index by lead (closing a moved lead's open row, the cascade).
AFTER_LOAD = ("ix_leads_stage", "ix_leads_owner", "ix_leads_facts", "ix_leads_created_at", "ix_leads_assigned_at",
              "ix_leads_last_activity_at", "ix_leads_batch_id", "ix_stage_history_to",
              "ix_imported_rows_lead", "ix_imported_rows_batch", "ix_leads_processed",
              "ix_leads_owner_facts", "ix_leads_contacted")  # the reports (the first replaced ix_leads_owner)
MIN_ROWS = 50_000  # below this, rebuilding costs more than keeping the indexes up to date
RATIO = 4          # the load must bring at least this many times the leads the store holds
_KEY = "indexes_after_load"
_KEYS = "indexes_after_load.%"  # one record per writing process (_KEY alone: an older store's)
_BUILD_CACHE = -8192  # KiB of page cache (and so of sort memory) while indexes are built
_META = models.SQLModel.metadata.tables["meta"]


def _indexes(names: Iterable[str] = AFTER_LOAD) -> list[Index]:
    tables = models.SQLModel.metadata.tables
    by_name = {str(ix.name): ix for name in ("leads", "stage_history", "imported_rows") for ix in tables[name].indexes}
    return [by_name[n] for n in names if n in by_name]


def written_by(columns: Iterable[str]) -> list[str]:
    """The leads' indexes of AFTER_LOAD over any of these columns (what a write of them keeps in order)."""
    cols = set(columns)
    leads = models.SQLModel.metadata.tables["leads"]
    return [str(ix.name) for ix in _indexes() if ix.table is leads and cols & {c.name for c in ix.columns}]


def worth_it(conn: Connection, rows: int) -> bool:
    """Whether a load of about `rows` leads is large against the store's leads (SQLite only)."""
    if conn.dialect.name != "sqlite" or rows < MIN_ROWS:
        return False
    held = conn.execute(text("SELECT max(id) FROM leads")).scalar() or 0  # no count(*) scan of a big table
    return rows >= RATIO * (held + 1)


@contextmanager
def built_after(store, rows: int) -> Iterator[bool]:
    """Around a load of about `rows` leads: drop AFTER_LOAD first when `worth_it`, create them at
    the end whatever happens. Yields whether they were dropped."""
    with store.begin() as conn:
        drop = worth_it(conn, rows)
    with set_aside(store.begin, AFTER_LOAD if drop else (), triggers=True) as dropped:
        yield dropped


@contextmanager
def set_aside(begin: Callable, names: Sequence[str], *, triggers: bool = False) -> Iterator[bool]:
    """Drop the indexes `names` (of AFTER_LOAD; SQLite only) in a transaction of `begin()`, and
    create them again at the end whatever happens; `triggers`: stage_stays' triggers too (counted
    again at the end instead of per row). Yields whether anything was dropped."""
    drop = False
    if names:
        with begin() as conn:
            drop = conn.dialect.name == "sqlite"
            if drop:
                _record(conn, {"pid": os.getpid(), "host": socket.gethostname(), "indexes": list(names),
                               "triggers": triggers})
                for index in _indexes(names):
                    conn.execute(text(f'DROP INDEX IF EXISTS "{index.name}"'))
                if triggers:
                    stays.drop_triggers(conn)
    try:
        yield drop
    finally:
        if drop:
            with begin() as conn:
                _create(conn, names, triggers=triggers)


def _records():
    meta = _META
    return or_(meta.c.key == _KEY, meta.c.key.like(_KEYS))


def restore_if_abandoned(conn: Connection) -> bool:
    """Create the indexes an import or process that was killed left dropped (its process is gone);
    True if it did."""
    meta = _META
    restored = False
    for key, value in conn.execute(select(meta.c.key, meta.c.value).where(_records())).all():
        try:
            owner = json.loads(value)
        except ValueError:
            owner = {}
        if owner.get("host") == socket.gethostname() and _alive(owner.get("pid")):
            continue  # a running import or process builds them itself when its write ends
        names = owner.get("indexes")
        _create(conn, names if isinstance(names, list) else AFTER_LOAD, triggers=owner.get("triggers") is not False,
                key=key)
        restored = True
    return restored


def pending(conn: Connection) -> bool:
    """Whether some import's or process's indexes are away (a cheap read for the open of a store)."""
    meta = _META
    return conn.execute(select(meta.c.key).where(_records()).limit(1)).first() is not None


def _own_key() -> str:
    return f"{_KEY}.{os.getpid()}"


def _create(conn: Connection, names: Iterable[str] = AFTER_LOAD, *, triggers: bool = True,
            key: str | None = None) -> None:
    # SQLite sorts an index's keys, and groups stage_stays' recount, in up to cache_size of memory:
    # 64 MiB on top of the page cache (1M leads: 288 -> 368 MB). A small cache for the build spills
    # the sort to a temporary file.
    with pragma_while(conn.connection.driver_connection, "cache_size", lambda own: _BUILD_CACHE):
        for index in _indexes(names):
            index.create(conn, checkfirst=True)
        if triggers:
            stays.install(conn)
    meta = _META
    conn.execute(meta.delete().where(meta.c.key == (key or _own_key())))


def _record(conn: Connection, owner: dict) -> None:
    meta, key = _META, _own_key()
    conn.execute(meta.delete().where(meta.c.key == key))
    conn.execute(meta.insert().values(key=key, value=json.dumps(owner)))


def _alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
