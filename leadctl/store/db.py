"""Open a store: a SQLite file path or any SQLAlchemy URL; create, pragma and migrate it."""
from __future__ import annotations

import os
import sqlite3
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping

from sqlalchemy import event, inspect, select, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from ..clock import utcnow
from ..errors import StoreError
from . import indexes, migrations, models, pragma_while
from .models import SCHEMA_VERSION, SQLModel

BUSY_TIMEOUT_MS = 30_000  # how long a writer waits for another one (LEADCTL_BUSY_TIMEOUT, in seconds)


def busy_timeout_ms() -> int:
    """The wait for a locked SQLite file: LEADCTL_BUSY_TIMEOUT seconds, else 30 s."""
    raw = os.environ.get("LEADCTL_BUSY_TIMEOUT", "").strip()
    if not raw:
        return BUSY_TIMEOUT_MS
    try:
        seconds = float(raw)
    except ValueError:
        raise StoreError(f"LEADCTL_BUSY_TIMEOUT: '{raw}' is not a number of seconds") from None
    if seconds < 0:
        raise StoreError(f"LEADCTL_BUSY_TIMEOUT: '{raw}' is not a number of seconds") from None
    return int(seconds * 1000)

@dataclass
class Store:
    """An open database: the engine and the table objects the core works with."""

    engine: Engine
    url: str

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def begin(self, pragmas: Mapping[str, Callable[[int], int]] | None = None) -> Iterator[Connection]:
        """A write transaction; on SQLite taken with BEGIN IMMEDIATE so writers queue, not fail.

        Plain `connect()` transactions stay deferred, so readers never wait for a writer (WAL).
        `pragmas` (SQLite; ignored elsewhere): name → new value from the connection's own, for this
        transaction and its commit; the connection's own values come back after it (store.pragma_while).
        """
        with self.engine.connect() as conn:
            conn.execution_options(leadctl_write=True)
            with ExitStack() as own:
                if pragmas and self.is_sqlite:
                    raw = conn.connection.driver_connection
                    for name, value in pragmas.items():
                        own.enter_context(pragma_while(raw, name, value))
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


def _sqlite_connect_hooks(engine: Engine, timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every test
        # Let SQLAlchemy emit BEGIN itself (pysqlite's own transaction handling is off).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {timeout_ms}")
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
    """Open (and create or migrate) the store at `db`, a path or a SQLAlchemy URL.

    With `create=False` a missing or empty database is an error (commands that only read or
    change existing leads). A database that holds other tables but no leadctl schema is refused
    either way, before anything is written to it.
    """
    from sqlalchemy import create_engine

    url = to_url(db)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"not a database path or URL: {db}") from exc
    if parsed.get_backend_name() == "sqlite":
        shown = db  # a SQLite URL holds no password
        path = _sqlite_path(parsed)
        if path:
            p = Path(path)
            if p.is_dir():
                raise StoreError(f"{db} is a folder, not a database file", hint="pass --db with a file name")
            if not p.exists():
                if not create:
                    raise StoreError(_missing(shown))
                if not p.parent.is_dir():
                    raise StoreError(f"cannot create database {db}: folder {p.parent} does not exist",
                                     hint="create the folder or pass another --db")
                # Lead data is personal data: the file is readable by its owner only.
                try:
                    fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o600)
                except OSError as exc:
                    from ..errors import os_error

                    raise os_error(exc, action="create database", cls=StoreError) from None
                os.close(fd)
            else:
                _check_sqlite_file(p, shown, create=create)
        timeout_ms = busy_timeout_ms()
        engine = create_engine(url, connect_args={"timeout": timeout_ms / 1000})
        _sqlite_connect_hooks(engine, timeout_ms)
    else:
        shown = _safe(parsed)
        timeout_ms = None
        try:
            engine = create_engine(url, pool_pre_ping=True)
        except (ArgumentError, ImportError, SQLAlchemyError) as exc:
            hint = "install the postgres extra (psycopg)" if isinstance(exc, ImportError) else None
            raise StoreError(f"cannot use database URL {shown}: {exc}", hint=hint) from exc
    _error_hooks(engine, shown, timeout_ms)
    store = Store(engine=engine, url=url)
    try:
        migrate(store, create=create, shown=shown)
    except StoreError:
        engine.dispose()
        raise
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"cannot open database {shown}: {_first_line(exc)}") from exc
    return store


def _safe(parsed) -> str:
    return parsed.render_as_string(hide_password=True)


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]


def _missing(shown: str) -> str:
    return f"no leadctl database at {shown} — run `leadctl init` or pass --db"


def _sqlite_path(parsed) -> str | None:
    """The file behind a SQLite URL (also `file:…?mode=ro` with `uri=true`); None in memory."""
    path = parsed.database
    if not path or path == ":memory:":
        return None
    if str(parsed.query.get("uri", "")).lower() in ("true", "1") and path.startswith("file:"):
        path = path[5:].split("?", 1)[0]
        if not path or path == ":memory:" or "mode=memory" in (parsed.database or ""):
            return None
    return path


def _check_sqlite_file(path: Path, shown: str, *, create: bool) -> None:
    """Look at an existing file without writing to it: a leadctl store, empty, or something else."""
    try:
        from urllib.parse import quote

        con = sqlite3.connect(f"file:{quote(path.as_posix())}?mode=ro", uri=True, timeout=busy_timeout_ms() / 1000,
                              isolation_level=None)
    except sqlite3.Error:
        return  # cannot even open it read-only: the real open below says why, naming the file
    try:
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            err = sqlite_error(exc, shown, None)
            if err is not None and "not a SQLite database" in err.message:
                raise err from None
            return  # locked, or not readable without writing: the real open below decides
        if not tables:
            if not create:
                raise StoreError(_missing(shown).replace(" — ", " (the file is empty) — ", 1))
            return
        version = None
        if "meta" in tables:
            try:
                row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                version = row[0] if row else None
            except sqlite3.Error:
                version = None
        if version is None:
            raise StoreError(f"{shown} is not a leadctl database: it holds other tables ({_some(tables)})",
                             hint="leadctl writes nothing to it; pass --db with a leadctl database or a new file name")
    finally:
        con.close()


def _some(names) -> str:
    names = sorted(names)
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


# ---------------------------------------------------------------- database errors → one line
def sqlite_error(exc: BaseException, shown: str, timeout_ms: int | None) -> StoreError | None:
    """A StoreError naming the file for an SQLite error people can do something about; else None."""
    text = str(exc).lower()
    if "database is locked" in text or "database table is locked" in text or "database schema is locked" in text:
        waited = f" (waited {timeout_ms / 1000:g} s)" if timeout_ms is not None else ""
        return StoreError(f"database {shown} is locked by another process{waited}",
                          hint="another leadctl command is writing to it; run again when it has finished "
                               "(LEADCTL_BUSY_TIMEOUT sets the wait, in seconds)")
    if "readonly database" in text or "read-only" in text:
        return StoreError(f"database {shown} is read-only",
                          hint="check the permissions of the file and its folder (SQLite also writes the "
                               "-wal and -shm files beside it)")
    if "file is not a database" in text or "malformed" in text or "file is encrypted" in text:
        return StoreError(f"{shown} is not a SQLite database, or it is damaged",
                          hint="pass --db with a leadctl database; restore a damaged one from a backup")
    if "database or disk is full" in text:
        return StoreError(f"cannot write database {shown}: the disk is full",
                          hint="free some space and run the command again; the unfinished transaction was "
                               "rolled back")
    if "unable to open database file" in text:
        return StoreError(f"cannot open database {shown}",
                          hint="check that the file's folder exists and that you may write to it")
    if "disk i/o error" in text:
        return StoreError(f"disk input/output error on database {shown}",
                          hint="check the disk and the file system; the unfinished transaction was rolled back")
    return None


def _error_hooks(engine: Engine, shown: str, timeout_ms: int | None) -> None:
    """Turn the database errors a person can fix into a StoreError naming the file or URL."""

    @event.listens_for(engine, "handle_error")
    def _on_error(ctx):  # pragma: no cover - exercised by the error tests
        if getattr(ctx, "is_pre_ping", False):
            return None
        orig = ctx.original_exception
        if engine.dialect.name == "sqlite":
            if isinstance(orig, sqlite3.DatabaseError) and not isinstance(orig, (sqlite3.IntegrityError,
                                                                             sqlite3.ProgrammingError)):
                err = sqlite_error(orig, shown, timeout_ms)
                if err is not None:
                    raise err
            return None
        # Other servers: a connection that cannot be made or was lost is about the URL, not a bug.
        dbapi = engine.dialect.loaded_dbapi
        if isinstance(orig, getattr(dbapi, "OperationalError", ())) or ctx.is_disconnect:
            raise StoreError(f"cannot reach database {shown}: {_first_line(orig)}",
                             hint="check that the server is running and that the host, port, user and "
                                  "database in --db are right")
        return None


def migrate(store: Store, *, create: bool = True, shown: str | None = None) -> list[str]:
    """Create missing tables and run the pending migration steps (store/migrations.py).

    Returns the names of the steps that ran. A store with every step recorded is only read
    (no write lock), so opening one is cheap and never waits for a running import. A
    database without leadctl's schema is created only when `create` is set and it holds
    none of leadctl's tables.
    """
    shown = shown or store.url
    with store.connect() as conn:
        state = _state(conn)
        if state is None:
            _refuse_foreign(conn, shown, create=create)
    if state is not None and not migrations.pending(_refuse_newer(state, shown)):
        if store.is_sqlite and _indexes_away(store):
            with store.begin() as conn:  # a killed import's indexes (store/indexes.py)
                indexes.restore_if_abandoned(conn)
        if store.is_sqlite and state[1] is not None and state[1] == set(migrations.NAMES):
            from .lite import save_facts

            save_facts(SCHEMA_VERSION, migrations.NAMES)  # lets read-only start-up paths skip this check
        return []
    meta = models.Meta.__table__
    now = utcnow()
    with store.begin() as conn:
        state = _state(conn)  # again, under the write lock: another process may have migrated
        if state is None:
            _refuse_foreign(conn, shown, create=create)
            SQLModel.metadata.create_all(conn)
            migrations.record(conn, migrations.NAMES, now)
            conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            return []
        done = _refuse_newer(state, shown)
        if state[1] is None:  # from before recorded migrations: record what its version had
            SQLModel.metadata.create_all(conn)
            migrations.record(conn, [n for n in migrations.NAMES if n in done], now)
        ran = migrations.upgrade(conn, done, now)
        conn.execute(meta.update().where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION)))
        return ran


def _indexes_away(store: Store) -> bool:
    with store.connect() as conn:
        return indexes.pending(conn)


def _state(conn: Connection) -> tuple[int, set[str] | None] | None:
    """(meta.schema_version, the recorded step names or None before recorded migrations); None: no store."""
    version = _stored_version(conn)
    if version is None:
        return None
    return version, migrations.applied(conn)


def _refuse_newer(state: tuple[int, set[str] | None], shown: str) -> set[str]:
    """The steps the store has (those of its old schema version when it records none); a
    store a newer leadctl migrated is refused."""
    version, done = state
    if done is None:
        if version > max(migrations.LEGACY_VERSIONS):
            raise StoreError(f"the database {shown} has schema version {version}, newer than this leadctl knows",
                             hint="upgrade leadctl")
        return set(migrations.LEGACY_VERSIONS[max(version, 1)])
    newer = migrations.unknown(done)
    if newer:
        raise StoreError(f"the database {shown} was migrated by a newer leadctl (steps {', '.join(newer)})",
                         hint="upgrade leadctl")
    return done


def _refuse_foreign(conn: Connection, shown: str, *, create: bool) -> None:
    """No schema version: an empty database (created only if `create`), or someone else's."""
    names = set(inspect(conn).get_table_names())
    # A SQLite file is one application's: any table is someone else's. On a shared server only
    # tables with leadctl's names are in the way.
    foreign = names if conn.dialect.name == "sqlite" else names & set(SQLModel.metadata.tables)
    if foreign:
        raise StoreError(f"{shown} is not a leadctl database: it holds other tables ({_some(foreign)})",
                         hint="leadctl writes nothing to it; pass --db with a leadctl database or a new one")
    if not create:
        raise StoreError(_missing(shown))


def _stored_version(conn: Connection) -> int | None:
    if not inspect(conn).has_table("meta"):
        return None
    meta = models.Meta.__table__
    try:
        with conn.begin_nested():  # someone else's `meta` table must not end the transaction
            row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
    except SQLAlchemyError:
        return None
    try:
        return int(row[0]) if row else None
    except (TypeError, ValueError):
        return None


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


def set_meta(conn: Connection, key: str, value: str | None) -> None:
    """Store `value` under `key` (None: remove the key)."""
    meta = models.Meta.__table__
    if value is None:
        conn.execute(meta.delete().where(meta.c.key == key))
    elif conn.execute(meta.update().where(meta.c.key == key).values(value=value)).rowcount == 0:
        conn.execute(meta.insert().values(key=key, value=value))




# ---------------------------------------------------------------- what differs between databases
def serialise(conn: Connection, key: int) -> None:
    """Make transactions that call this with the same `key` run one after another.

    On SQLite a write transaction (`Store.begin`, BEGIN IMMEDIATE) already holds the one
    write lock; on PostgreSQL an advisory lock is held until the transaction ends.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def overwrite_deleted(conn: Connection) -> None:
    """Have SQLite overwrite what this connection deletes or replaces (secure_delete); a server manages its files."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA secure_delete = ON")


def truncate_log(store: Store) -> None:
    """Fold SQLite's write-ahead log into the database file and empty it, so replaced values leave the disk."""
    if store.is_sqlite:
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
