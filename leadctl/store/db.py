"""Open a store: a SQLite file path or any SQLAlchemy URL; create, pragma and migrate it."""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import event, inspect, select, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from ..errors import StoreError
from . import models
from .models import SCHEMA_VERSION, SQLModel

BUSY_TIMEOUT_MS = 30_000

# Forward migrations: MIGRATIONS[n] upgrades a store at version n to n + 1, after new
# tables (create_all) and new columns and indexes (add_missing_columns) are in place;
# it fills or fixes data. Bump SCHEMA_VERSION with every change to models.py.
def _fill_left_at(conn: Connection) -> None:
    """1 → 2: each stage-history row learns when the lead left that stage (its next row's time)."""
    from .history import relink_stage_history

    sh = models.StageChange.__table__
    relink_stage_history(conn, [lid for (lid,) in conn.execute(select(sh.c.lead_id).distinct())])


def _drop_followups_lead_index(conn: Connection) -> None:
    """3 → 4: ix_followups_lead_rule (added by add_missing_columns) replaces ix_followups_lead."""
    conn.execute(text("DROP INDEX IF EXISTS ix_followups_lead"))


def _fill_stages_entered(conn: Connection) -> None:
    """4 → 5: leads.stages_entered from each lead's history; ix_leads_facts replaces ix_leads_source."""
    conn.execute(text("DROP INDEX IF EXISTS ix_leads_source"))
    _fill_left_at(conn)  # relinking a lead's history also recomputes its stages_entered


def _fill_identifiers(conn: Connection) -> None:
    """5 → 6: every lead's e-mail, phone and external ids become its recorded identifiers."""
    from .identity import backfill_identifiers

    backfill_identifiers(conn)


MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _fill_left_at, 3: _drop_followups_lead_index, 4: _fill_stages_entered, 5: _fill_identifiers,
}


@dataclass
class Store:
    """An open database: the engine and the table objects the core works with."""

    engine: Engine
    url: str

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A write transaction; on SQLite taken with BEGIN IMMEDIATE so writers queue, not fail.

        Plain `connect()` transactions stay deferred, so readers never wait for a writer (WAL).
        """
        with self.engine.connect() as conn:
            conn.execution_options(leadctl_write=True)
            with conn.begin():
                yield conn

    def connect(self):
        return self.engine.connect()

    def dispose(self) -> None:
        self.engine.dispose()


def to_url(db: str) -> str:
    """`./leadctl.db` → `sqlite:///./leadctl.db`; a URL stays as it is."""
    if "://" in db:
        return db
    return "sqlite:///" + db


def _sqlite_connect_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every test
        # Let SQLAlchemy emit BEGIN itself (pysqlite's own transaction handling is off).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        # 64 MiB of page cache (default 2 MiB): at a million leads the indexes outgrow the default.
        cur.execute("PRAGMA cache_size = -65536")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # pragma: no cover
        # IMMEDIATE takes the write lock up front: two writers wait (busy timeout)
        # instead of failing with "database is locked" when one upgrades later.
        if conn.get_execution_options().get("leadctl_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def open_store(db: str, *, create: bool = True) -> Store:
    """Open (and create or migrate) the store at `db`, a path or a SQLAlchemy URL."""
    from sqlalchemy import create_engine

    url = to_url(db)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"not a database path or URL: {db}") from exc
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if path and path != ":memory:":
            p = Path(path)
            if p.is_dir():
                raise StoreError(f"{db} is a folder, not a database file")
            if not p.exists():
                if not create:
                    raise StoreError(f"no database at {db}", hint="run `leadctl init` or pass --db")
                if not p.parent.exists():
                    raise StoreError(f"folder {p.parent} does not exist", hint="create it or pass another --db")
                # Lead data is personal data: the file is readable by its owner only.
                fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o600)
                os.close(fd)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        _sqlite_connect_hooks(engine)
    else:
        try:
            engine = create_engine(url, pool_pre_ping=True)
        except (ArgumentError, ImportError, SQLAlchemyError) as exc:
            raise StoreError(f"cannot use database URL {parsed.render_as_string(hide_password=True)}: {exc}") from exc
    store = Store(engine=engine, url=url)
    try:
        migrate(store)
    except OperationalError as exc:
        raise StoreError(f"cannot open database {_safe(parsed)}: {exc.orig}") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open database {_safe(parsed)}: {exc}") from exc
    return store


def _safe(parsed) -> str:
    return parsed.render_as_string(hide_password=True)


def migrate(store: Store) -> int:
    """Create missing tables and run forward migrations; return the schema version.

    A store at the current version is only read (no write lock), so opening one is cheap
    and never waits for a running import.
    """
    with store.connect() as conn:
        version = _stored_version(conn)
    if version == SCHEMA_VERSION:
        return version
    meta = models.Meta.__table__
    with store.begin() as conn:
        SQLModel.metadata.create_all(conn)
        version = _stored_version(conn)  # again, under the write lock: another process may have migrated
        if version is None:
            conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            return SCHEMA_VERSION
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the database has schema version {version}, newer than this leadctl ({SCHEMA_VERSION})",
                hint="upgrade leadctl",
            )
        if version < SCHEMA_VERSION:
            add_missing_columns(conn)
            while version < SCHEMA_VERSION:
                MIGRATIONS.get(version, lambda _conn: None)(conn)
                version += 1
            conn.execute(meta.update().where(meta.c.key == "schema_version").values(value=str(version)))
        return version


def _stored_version(conn: Connection) -> int | None:
    if not inspect(conn).has_table("meta"):
        return None
    meta = models.Meta.__table__
    row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
    return int(row[0]) if row else None


def add_missing_columns(conn: Connection) -> list[str]:
    """The additive part of every migration: columns and indexes the models have and the store lacks.

    New columns are nullable or have defaults, so ALTER TABLE … ADD COLUMN is all it takes.
    Returns what was added, as `table.column` / `index name`.
    """
    insp = inspect(conn)
    ddl = conn.dialect.ddl_compiler(conn.dialect, None)
    added: list[str] = []
    for table in SQLModel.metadata.sorted_tables:
        have = {c["name"] for c in insp.get_columns(table.name)}
        for column in table.columns:
            if column.name not in have:
                conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {ddl.get_column_specification(column)}")
                added.append(f"{table.name}.{column.name}")
        indexes = {i["name"] for i in insp.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(conn)
                added.append(index.name)
    return added


def get_meta(conn: Connection, key: str) -> str | None:
    meta = models.Meta.__table__
    row = conn.execute(select(meta.c.value).where(meta.c.key == key)).first()
    return row[0] if row else None


def set_meta(conn: Connection, key: str, value: str) -> None:
    meta = models.Meta.__table__
    if conn.execute(meta.update().where(meta.c.key == key).values(value=value)).rowcount == 0:
        conn.execute(meta.insert().values(key=key, value=value))


