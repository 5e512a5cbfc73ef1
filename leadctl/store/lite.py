"""Open an SQLite store with plain `sqlite3`, for read-only start-up paths (`followups due`).

Only a store that is surely ready is opened: an existing file whose schema version and
recorded migrations are exactly those of this leadctl. Anything else — a URL, a missing
or foreign file, a store to migrate, a locked one — returns None, and the command takes
the ordinary path (`store.db.open_store`), which migrates or says what is wrong.

This module does not import the table classes: what "exactly those" are (the schema version
and the migration step names) is written by `store.db` after it opened a store with nothing
to migrate, to a small file under the cache folder keyed by the code of `store.models` and
`store.migrations` — so a changed schema is never taken for ready.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import sqlite3
from pathlib import Path

_STORE = Path(__file__).resolve().parent


def _facts_path() -> Path | None:
    from ..rules.cache import cache_dir

    d = cache_dir()
    if d is None:
        return None
    from .. import __version__

    stamp: list[object] = [__version__]
    for name in ("models.py", "migrations.py"):
        st = (_STORE / name).stat()
        stamp.append((name, st.st_mtime_ns, st.st_size))
    return d / f"store-{hashlib.sha256(repr(stamp).encode()).hexdigest()[:32]}.pickle"


def save_facts(schema_version: int, migration_names) -> None:
    """Record what a ready store holds (best effort)."""
    try:
        path = _facts_path()
        if path is None or path.exists():
            return
        # The file key is the files as they are now; a process that loaded them before they changed
        # (a migration step added meanwhile) would file its older step names under the new key.
        import re

        written = re.findall(r'Step\(\s*"([^"]+)"', (_STORE / "migrations.py").read_text("utf-8"))
        if set(written) != set(migration_names):
            return
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            pickle.dump((str(schema_version), frozenset(migration_names)), fh)
        os.replace(tmp, path)
    except Exception:  # noqa: BLE001 - an optimisation only
        pass


def _facts() -> tuple[str, frozenset[str]] | None:
    try:
        path = _facts_path()
        with open(path, "rb") as fh:  # type: ignore[arg-type]
            value = pickle.load(fh)
    except Exception:  # noqa: BLE001 - not recorded yet
        return None
    return value if isinstance(value, tuple) and len(value) == 2 else None


def open_ready(db: str) -> sqlite3.Connection | None:
    """A `sqlite3` connection to the SQLite store at `db` when it is surely ready to read, else None."""
    if "://" in db or os.environ.get("LEADCTL_BUSY_TIMEOUT", "").strip():
        return None
    if not os.path.isfile(db):
        return None
    facts = _facts()
    if facts is None:
        return None
    try:
        con = sqlite3.connect(db, timeout=30.0, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        # The pragmas of store.db's connections (WAL, 64 MiB of page cache).
        con.execute("PRAGMA busy_timeout = 30000")
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = NORMAL")
        con.execute("PRAGMA cache_size = -65536")
        con.execute("PRAGMA foreign_keys = ON")
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        names = frozenset(r[0] for r in con.execute("SELECT name FROM _migrations"))
        if row is None or row[0] != facts[0] or names != facts[1]:
            con.close()
            return None
    except sqlite3.Error:
        con.close()
        return None
    return con
