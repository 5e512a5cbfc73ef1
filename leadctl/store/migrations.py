"""Recorded migrations: named steps, each run once per store and recorded in `_migrations`.

A step is a function of a connection inside the migrating transaction. Before the pending
steps run, tables the models have and the store lacks are created, and columns and
indexes are added (`add_missing_columns`: new columns are nullable or have defaults); a
step then fills or fixes data, or rebuilds a table (`rebuild_table`, SQLite's way to
change what ALTER TABLE cannot: create the new table, copy, drop the old, rename).

To change the schema: change models.py, and append a step here (never rename or reorder
one: its name is what stores record). A store created by this version records every step
as applied without running any. Stores from releases before recorded migrations hold only
`meta.schema_version` (1–6): `LEGACY_VERSIONS` says which steps each had.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import MetaData, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateTable

from . import models
from .models import SQLModel


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Connection], None] | None  # None: the additive pass is all it takes
    what: str


def _fill_left_at(conn: Connection) -> None:
    from .history import relink_stage_history

    sh = models.StageChange.__table__
    relink_stage_history(conn, [lid for (lid,) in conn.execute(select(sh.c.lead_id).distinct())])


def _drop_followups_lead_index(conn: Connection) -> None:
    conn.execute(text("DROP INDEX IF EXISTS ix_followups_lead"))


def _drop_stage_history_lead_index(conn: Connection) -> None:
    conn.execute(text("DROP INDEX IF EXISTS ix_stage_history_lead"))


def _fill_stages_entered(conn: Connection) -> None:
    conn.execute(text("DROP INDEX IF EXISTS ix_leads_source"))
    _fill_left_at(conn)  # relinking a lead's history also recomputes its stages_entered


def _fill_identifiers(conn: Connection) -> None:
    from .identity import backfill_identifiers

    backfill_identifiers(conn)


def _install_processed_trigger(conn: Connection) -> None:
    from .dirty import install

    install(conn)


def _fill_flags(conn: Connection) -> None:
    from ..quality.flags import refresh_flags

    refresh_flags(conn)


# The tables whose rows belong to one lead (lead_id, and possible_duplicates.other_id).
LEAD_CHILDREN = ("stage_history", "activities", "assignments", "sla_breaches", "followups", "batch_changes",
                 "lead_identifiers", "possible_duplicates")


def _lead_foreign_keys(conn: Connection) -> None:
    """Every child row of a lead gets a real foreign key, deleted with its lead (ON DELETE CASCADE).

    Rows whose lead no longer exists (there should be none: leadctl deleted them by hand)
    cannot satisfy the key and are dropped.
    """
    leads = models.Lead.__table__
    for name in LEAD_CHILDREN:
        table = SQLModel.metadata.tables[name]
        refs = [fk.parent for fk in table.foreign_keys]
        orphan = " OR ".join(f"{c.name} NOT IN (SELECT id FROM {leads.name})" for c in refs)
        if conn.dialect.name == "sqlite":
            rebuild_table(conn, table, where=f"NOT ({orphan})")
        else:
            conn.execute(text(f"DELETE FROM {name} WHERE {orphan}"))
            # A table this upgrade created (create_all, before the steps) has its keys already.
            present = {str(fk["name"]) for fk in inspect(conn).get_foreign_keys(name)}
            # (Not AddConstraint: it would mark the models' constraint as no longer part of CREATE TABLE.)
            for fk in table.foreign_keys:
                if str(fk.constraint.name) in present:
                    continue
                conn.execute(text(f"ALTER TABLE {name} ADD CONSTRAINT {fk.constraint.name} FOREIGN KEY "
                                  f"({fk.parent.name}) REFERENCES {leads.name} (id) ON DELETE CASCADE"))


def _consent_from_flag(conn: Connection) -> None:
    conn.execute(text("UPDATE leads SET consent_email = 'opted_out', consent_phone = 'opted_out', "
                      "consent_sms = 'opted_out' WHERE do_not_contact = true"))


def _drop_leads_owner_index(conn: Connection) -> None:
    conn.execute(text("DROP INDEX IF EXISTS ix_leads_owner"))


def _install_stage_stays(conn: Connection) -> None:
    from .stays import install

    install(conn)


STEPS: tuple[Step, ...] = (
    Step("stage_history_left_at", _fill_left_at,
         "each stage-history row learns when the lead left that stage (its next row's time)"),
    Step("leads_assigned_at_index", None, "index on leads.assigned_at (the cron SLA check)"),
    Step("followups_covering_index", _drop_followups_lead_index,
         "ix_followups_lead_rule (the sweep's covering index) replaces ix_followups_lead"),
    Step("leads_stages_entered", _fill_stages_entered,
         "leads.stages_entered from each lead's history; ix_leads_facts replaces ix_leads_source"),
    Step("lead_identifiers", _fill_identifiers,
         "lead_identifiers, possible_duplicates, batch_changes.after; every lead's identifiers recorded"),
    Step("lead_foreign_keys", _lead_foreign_keys,
         "foreign keys with ON DELETE CASCADE from every child table of leads"),
    Step("imported_rows", None, "imported_rows: the rows each import folded in, so a re-import is a no-op"),
    Step("touches_and_lost_reasons", None,
         "activities.touch_source, activities.campaign (attribution); leads.lost_reason (lost reasons)"),
    Step("leads_predicted", None, "leads.predicted: the chance of winning by rules/model.yaml"),
    Step("leads_processed", _install_processed_trigger,
         "leads.processed and the trigger that clears it on other writes (process re-evaluates only changed leads)"),
    Step("sweep_indexes", None,
         "indexes on leads.processed, leads.last_activity_at and closed follow-ups (the sweep's incremental scan)"),
    Step("duplicate_review", None,
         "not_duplicates (pairs a person rejected) and duplicate_merges (what `batches undo` needs to split a merge)"),
    Step("lead_consent", _consent_from_flag,
         "leads.consent_email|phone|sms and leads.consent; leads marked do_not_contact opted out of every channel"),
    Step("leads_flags", _fill_flags, "leads.flags: data-quality flags (e-mail and phone), computed for every lead"),
    Step("lead_segments", None, "lead_segments: each lead's segments of rules/segments.yaml, as `process` found them"),
    Step("leads_enriched", None, "leads.enriched: the values enrichment filled, each with its origin"),
    Step("stage_history_lead_index", _drop_stage_history_lead_index,
         "ix_stage_history_lead dropped: ix_stage_history_reach (lead_id first) serves every per-lead query"),
    Step("report_indexes", _drop_leads_owner_index,
         "ix_leads_owner_facts (owner, stage, stages_entered) replaces ix_leads_owner; ix_leads_contacted "
         "(the contacted leads) — report owners and sources read indexes, not every lead"),
    Step("stage_stays", _install_stage_stays,
         "stage_stays: stage-history rows counted per stage and stay, kept by triggers (SQLite: the funnel's "
         "time in stage without reading every row)"),
    Step("activity_triggers", _install_processed_trigger,
         "triggers marking a lead changed (leads.processed) when one of its activities is logged, deleted or "
         "changed (process, segments and the sweep look at it again)"),
)
NAMES = tuple(s.name for s in STEPS)

# meta.schema_version of a store from before recorded migrations → the steps it had.
LEGACY_VERSIONS = {v: NAMES[:v - 1] for v in range(1, 7)}


def applied(conn: Connection) -> set[str] | None:
    """The names recorded in `_migrations`; None when the store has no such table."""
    if not inspect(conn).has_table(models.Migration.__tablename__):
        return None
    t = models.Migration.__table__
    return {n for (n,) in conn.execute(select(t.c.name))}


def pending(done: set[str]) -> list[Step]:
    return [s for s in STEPS if s.name not in done]


def unknown(done: set[str]) -> list[str]:
    """Steps a newer leadctl recorded that this one does not know."""
    return sorted(done - set(NAMES))


def record(conn: Connection, names, now: datetime) -> None:
    t = models.Migration.__table__
    rows = [{"name": n, "applied_at": now} for n in names]
    if rows:
        conn.execute(t.insert(), rows)


def upgrade(conn: Connection, done: set[str], now: datetime) -> list[str]:
    """Create what is missing, run the pending steps in order and record each; returns their names."""
    from .db import add_missing_columns

    SQLModel.metadata.create_all(conn)
    add_missing_columns(conn)
    ran = []
    for step in pending(done):
        if step.run is not None:
            step.run(conn)
        record(conn, [step.name], now)
        ran.append(step.name)
    return ran


def rebuild_table(conn: Connection, table, *, where: str | None = None) -> None:
    """Give an existing SQLite table `table`'s current definition (constraints included).

    SQLite's recipe (https://sqlite.org/lang_altertable.html#otheralter): create the new
    table under another name, copy the rows (those matching `where`), drop the old table,
    rename the new one, create its indexes. Runs inside the caller's transaction.
    """
    temp = f"_new_{table.name}"
    md = MetaData()
    for parent in {fk.column.table for fk in table.foreign_keys}:  # what the keys point at, so the DDL compiles
        parent.to_metadata(md)
    conn.execute(CreateTable(table.to_metadata(md, name=temp)))
    have = {c["name"] for c in inspect(conn).get_columns(table.name)}
    cols = ", ".join(c.name for c in table.columns if c.name in have)
    conn.exec_driver_sql(f"INSERT INTO {temp} ({cols}) SELECT {cols} FROM {table.name}"
                         + (f" WHERE {where}" if where else ""))
    conn.exec_driver_sql(f"DROP TABLE {table.name}")
    conn.exec_driver_sql(f"ALTER TABLE {temp} RENAME TO {table.name}")
    for index in table.indexes:
        index.create(conn)
