"""Which leads changed since `process` last evaluated them: `leads.processed`.

`process` stamps every lead it evaluates with its run's number (`processed`). A trigger
clears the stamp (NULL) on any other write to the row, whoever makes it (import, edit,
merge, undo, an activity moving `last_activity_at`): a write that leaves `processed` as it
was is a change `process` has not seen. New leads start with NULL. Triggers on `activities` do
the same for the lead of an activity logged, deleted or changed (an undone activity
import, a merge moving activities): activity ids cannot tell, since SQLite may give a new
activity the id of a deleted one. So `processed IS NULL` is the set of leads whose own data changed
since their last evaluation, kept by the database rather than by every writer remembering
to say so.

    install(conn)          # create the trigger (idempotent); `installed(conn)` checks for it
"""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

TRIGGER = "leads_processed_stale"
ACTIVITY_TRIGGER = "activities_processed_stale"

_SQLITE = (
    f"CREATE TRIGGER IF NOT EXISTS {TRIGGER} AFTER UPDATE ON leads FOR EACH ROW "
    "WHEN OLD.processed IS NOT NULL AND NEW.processed IS OLD.processed "
    "BEGIN UPDATE leads SET processed = NULL WHERE id = NEW.id; END",
    f"CREATE TRIGGER IF NOT EXISTS {ACTIVITY_TRIGGER}_i AFTER INSERT ON activities FOR EACH ROW "
    "BEGIN UPDATE leads SET processed = NULL WHERE id = NEW.lead_id AND processed IS NOT NULL; END",
    f"CREATE TRIGGER IF NOT EXISTS {ACTIVITY_TRIGGER}_d AFTER DELETE ON activities FOR EACH ROW "
    "BEGIN UPDATE leads SET processed = NULL WHERE id = OLD.lead_id AND processed IS NOT NULL; END",
    f"CREATE TRIGGER IF NOT EXISTS {ACTIVITY_TRIGGER} AFTER UPDATE ON activities FOR EACH ROW "
    "BEGIN UPDATE leads SET processed = NULL WHERE id IN (OLD.lead_id, NEW.lead_id) AND processed IS NOT NULL; END",
)
# PostgreSQL can change the row before it is written: no second UPDATE.
_POSTGRES = (
    f"CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger AS $$ BEGIN "
    "IF OLD.processed IS NOT NULL AND NEW.processed IS NOT DISTINCT FROM OLD.processed THEN "
    "NEW.processed := NULL; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
    f"DROP TRIGGER IF EXISTS {TRIGGER} ON leads",
    f"CREATE TRIGGER {TRIGGER} BEFORE UPDATE ON leads FOR EACH ROW EXECUTE FUNCTION {TRIGGER}()",
    f"CREATE OR REPLACE FUNCTION {ACTIVITY_TRIGGER}() RETURNS trigger AS $$ BEGIN "
    "IF TG_OP <> 'INSERT' THEN UPDATE leads SET processed = NULL WHERE id = OLD.lead_id AND processed IS NOT NULL; "
    "END IF; IF TG_OP <> 'DELETE' THEN UPDATE leads SET processed = NULL WHERE id = NEW.lead_id "
    "AND processed IS NOT NULL; END IF; RETURN NULL; END $$ LANGUAGE plpgsql",
    f"DROP TRIGGER IF EXISTS {ACTIVITY_TRIGGER} ON activities",
    f"CREATE TRIGGER {ACTIVITY_TRIGGER} AFTER INSERT OR DELETE OR UPDATE ON activities FOR EACH ROW "
    f"EXECUTE FUNCTION {ACTIVITY_TRIGGER}()",
)


def statements(dialect: str) -> tuple[str, ...]:
    """The DDL that installs the triggers on this dialect."""
    return _POSTGRES if dialect == "postgresql" else _SQLITE


def _has_activities(conn: Connection) -> bool:
    if conn.dialect.name == "postgresql":
        return conn.execute(text("SELECT to_regclass('activities') IS NOT NULL")).scalar() is True
    return conn.execute(text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'activities'")).first() \
        is not None


def install(conn: Connection) -> None:
    """Create the triggers (idempotent); the one on `activities` once that table exists."""
    activities = _has_activities(conn)
    for sql in statements(conn.dialect.name):
        if activities or ACTIVITY_TRIGGER not in sql:
            conn.exec_driver_sql(sql)


def installed(conn: Connection) -> bool:
    """Whether the store has the triggers (a store built some other way, or before one of them, may not)."""
    if conn.dialect.name == "postgresql":
        q = "SELECT 1 FROM pg_trigger WHERE tgname = :n AND NOT tgisinternal"
    else:
        q = "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = :n"
    names = (TRIGGER, ACTIVITY_TRIGGER) + (() if conn.dialect.name == "postgresql" else
                                           (f"{ACTIVITY_TRIGGER}_i", f"{ACTIVITY_TRIGGER}_d"))
    return all(conn.execute(text(q), {"n": n}).first() is not None for n in names)
