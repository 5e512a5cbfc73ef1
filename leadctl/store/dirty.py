"""Which leads changed since `process` last evaluated them: `leads.processed`.

`process` stamps every lead it evaluates with its run's number (`processed`). A trigger
clears the stamp (NULL) on any other write to the row, whoever makes it (import, edit,
merge, undo, an activity moving `last_activity_at`): a write that leaves `processed` as it
was is a change `process` has not seen. New leads start with NULL. So `processed IS NULL`
is the set of leads whose own data changed since their last evaluation, kept by the
database rather than by every writer remembering to say so.

    install(conn)          # create the trigger (idempotent); `installed(conn)` checks for it
"""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

TRIGGER = "leads_processed_stale"

_SQLITE = (
    f"CREATE TRIGGER IF NOT EXISTS {TRIGGER} AFTER UPDATE ON leads FOR EACH ROW "
    "WHEN OLD.processed IS NOT NULL AND NEW.processed IS OLD.processed "
    "BEGIN UPDATE leads SET processed = NULL WHERE id = NEW.id; END",
)
# PostgreSQL can change the row before it is written: no second UPDATE.
_POSTGRES = (
    f"CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger AS $$ BEGIN "
    "IF OLD.processed IS NOT NULL AND NEW.processed IS NOT DISTINCT FROM OLD.processed THEN "
    "NEW.processed := NULL; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
    f"DROP TRIGGER IF EXISTS {TRIGGER} ON leads",
    f"CREATE TRIGGER {TRIGGER} BEFORE UPDATE ON leads FOR EACH ROW EXECUTE FUNCTION {TRIGGER}()",
)


def statements(dialect: str) -> tuple[str, ...]:
    """The DDL that installs the trigger on this dialect."""
    return _POSTGRES if dialect == "postgresql" else _SQLITE


def install(conn: Connection) -> None:
    """Create the trigger on `leads` (idempotent)."""
    for sql in statements(conn.dialect.name):
        conn.exec_driver_sql(sql)


def installed(conn: Connection) -> bool:
    """Whether the store has the trigger (a store built some other way may not)."""
    if conn.dialect.name == "postgresql":
        q = "SELECT 1 FROM pg_trigger WHERE tgname = :n AND NOT tgisinternal"
    else:
        q = "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = :n"
    return conn.execute(text(q), {"n": TRIGGER}).first() is not None
