"""Stores made by earlier releases open with this one: every recorded step runs once, data survives.

The fixtures in tests/data/stores were created by the released code at each schema version
(see the README there): init, import examples/hubspot_contacts.csv, activity import, process.
"""
from __future__ import annotations

import gzip
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text

from leadctl.engine.process import process_leads
from leadctl.errors import StoreError
from leadctl.rules.loader import load_rules
from leadctl.store import migrations, models
from leadctl.store.db import get_meta, migrate, open_store
from leadctl.store.history import entered_stages

from conftest import REPO, sqlite_only

STORES = Path(__file__).resolve().parents[1] / "data" / "stores"
NOW = datetime(2026, 12, 1, 9, 0)
KEPT = ("leads", "stage_history", "activities", "assignments", "followups", "batches", "owners", "meta")
LEADS = models.Lead.__table__
HISTORY = models.StageChange.__table__


def _unpack(version: int, tmp_path: Path) -> Path:
    path = tmp_path / f"v{version}.db"
    with gzip.open(STORES / f"leadctl-schema-v{version}.db.gz") as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return path


def _raw(path: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _schema_is_current(conn) -> None:
    insp = inspect(conn)
    for table in models.SQLModel.metadata.sorted_tables:
        assert {c["name"] for c in insp.get_columns(table.name)} == {c.name for c in table.columns}, table.name
        assert {i["name"] for i in insp.get_indexes(table.name)} >= {i.name for i in table.indexes}, table.name
    for name in migrations.LEAD_CHILDREN:
        fks = insp.get_foreign_keys(name)
        want = {fk.parent.name for fk in models.SQLModel.metadata.tables[name].foreign_keys}
        assert {fk["constrained_columns"][0] for fk in fks} == want, name
        for fk in fks:
            assert fk["referred_table"] == "leads" and fk["options"].get("ondelete") == "CASCADE", (name, fk)


@sqlite_only
@pytest.mark.parametrize("version", sorted(migrations.LEGACY_VERSIONS))
def test_store_of_an_earlier_release_is_migrated(version, tmp_path):
    path = _unpack(version, tmp_path)
    assert _raw(path, "SELECT value FROM meta WHERE key = 'schema_version'") == [(str(version),)]
    before = {t: _raw(path, f"SELECT * FROM {t} ORDER BY 1") for t in KEPT if t != "meta"}
    emails = {e.casefold() for (e,) in _raw(path, "SELECT email FROM leads WHERE email IS NOT NULL")}

    store = open_store(str(path))
    with store.connect() as conn:
        _schema_is_current(conn)
        assert get_meta(conn, "schema_version") == str(models.SCHEMA_VERSION)
        assert migrations.applied(conn) == set(migrations.NAMES)
        recorded = conn.execute(select(func.count()).select_from(models.Migration.__table__)).scalar()
        assert recorded == len(migrations.NAMES)
        # every step filled what it is for
        lids = {lid for (lid,) in conn.execute(select(HISTORY.c.lead_id))}
        open_rows = conn.execute(select(HISTORY.c.lead_id, func.count()).where(HISTORY.c.left_at.is_(None))
                                 .group_by(HISTORY.c.lead_id)).all()
        assert all(n == 1 for _, n in open_rows) and {lid for lid, _ in open_rows} == lids
        entered = dict(conn.execute(select(LEADS.c.id, LEADS.c.stages_entered)).all())
        for lid in lids:
            stages = {s for (s,) in conn.execute(select(HISTORY.c.to_stage).where(HISTORY.c.lead_id == lid))}
            assert set(entered_stages(entered[lid])) == stages
        li = models.LeadIdentifier.__table__
        recorded_emails = {v for (v,) in conn.execute(select(li.c.value).where(li.c.kind == "email"))}
        assert version == 6 or emails <= recorded_emails  # (6 records only what the columns do not hold)
    store.dispose()
    # nothing lost: old columns of every old row are as they were (left_at / stages_entered filled in)
    for table, rows in before.items():
        after = _raw(path, f"SELECT * FROM {table} ORDER BY 1")
        assert len(after) == len(rows), table
        width = len(rows[0]) if rows else 0
        changed = {"stage_history": ("left_at",), "leads": ("stages_entered",)}.get(table, ())
        cols = [c for (c,) in _raw(path, f"SELECT name FROM pragma_table_info('{table}')")]
        keep = [i for i in range(width) if cols[i] not in changed]
        assert [[r[i] for i in keep] for r in after] == [[r[i] for i in keep] for r in rows], table
    assert _raw(path, "PRAGMA foreign_key_check") == []
    assert _raw(path, "PRAGMA integrity_check") == [("ok",)]
    if version == 3:
        assert "ix_followups_lead" not in {n for (n,) in _raw(path, "SELECT name FROM sqlite_master")}

    # the migrated store works: opening again runs nothing, process runs, deleting a lead takes its rows
    store = open_store(str(path))
    assert migrate(store) == []
    process_leads(store, load_rules(REPO / "rules"), now=NOW)
    with store.begin() as conn:
        lid = conn.execute(select(HISTORY.c.lead_id).order_by(HISTORY.c.id)).scalar()
        conn.execute(LEADS.delete().where(LEADS.c.id == lid))
        for name in migrations.LEAD_CHILDREN:
            t = models.SQLModel.metadata.tables[name]
            assert not conn.execute(select(t.c.id).where(t.c.lead_id == lid)).first(), name
    store.dispose()


def test_a_new_store_records_every_step(store):
    with store.connect() as conn:
        assert migrations.applied(conn) == set(migrations.NAMES)
        _schema_is_current(conn)
    assert migrate(store) == []


def test_foreign_key_step_drops_orphans_and_keeps_the_rest(db_url):
    """The step on a store without the keys: rows of a lead that is gone cannot be kept, all others are."""
    store = open_store(db_url)
    sh = HISTORY
    with store.begin() as conn:
        for name in migrations.LEAD_CHILDREN:  # as before the step: no keys
            for fk in inspect(conn).get_foreign_keys(name):
                if conn.dialect.name == "sqlite":
                    migrations.rebuild_table(conn, _without_keys(name))
                    break
                conn.execute(text(f'ALTER TABLE {name} DROP CONSTRAINT "{fk["name"]}"'))
        conn.execute(models.Migration.__table__.delete().where(models.Migration.name == "lead_foreign_keys"))
        now = datetime(2026, 1, 1)
        (a,) = conn.execute(LEADS.insert().returning(LEADS.c.id), [dict(created_at=now, updated_at=now)]).scalars()
        conn.execute(sh.insert(), [dict(lead_id=a, to_stage="new", at=now, cause="import"),
                                   dict(lead_id=a + 1000, to_stage="new", at=now, cause="import")])
    store.dispose()
    store = open_store(db_url)
    with store.connect() as conn:
        _schema_is_current(conn)
        assert conn.execute(select(sh.c.lead_id)).scalars().all() == [a]
    with store.begin() as conn:
        conn.execute(LEADS.delete().where(LEADS.c.id == a))
        assert conn.execute(select(func.count()).select_from(sh)).scalar() == 0
    store.dispose()
    # and the models still create their keys (a new store in the same process)
    from sqlalchemy.schema import CreateTable

    assert "ON DELETE CASCADE" in str(CreateTable(sh).compile(dialect=store.engine.dialect))


def _without_keys(name: str):
    """`name` as it was before the foreign-key step: the same columns, no keys."""
    from sqlalchemy import Column, MetaData, Table

    table = models.SQLModel.metadata.tables[name]
    return Table(name, MetaData(), *[Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
                                     for c in table.columns])


def test_newer_store_is_refused(db_url):
    store = open_store(db_url)
    with store.begin() as conn:
        migrations.record(conn, ["a_step_from_the_future"], NOW)
    store.dispose()
    with pytest.raises(StoreError, match="newer leadctl.*a_step_from_the_future"):
        open_store(db_url)


@sqlite_only
def test_old_numbered_store_above_the_last_numbered_release_is_refused(tmp_path):
    path = _unpack(6, tmp_path)
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = '8' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="schema version 8, newer"):
        open_store(str(path))
