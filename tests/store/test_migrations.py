"""An old leadctl.db keeps working: forward migrations add what is new and fill its data."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import inspect, select

from leadctl.errors import StoreError
from leadctl.store import models
from leadctl.store.db import get_meta, open_store, set_meta


def _downgrade_to_v1(store) -> None:
    """Make the store look like schema version 1: no stage_history.left_at."""
    with store.begin() as conn:
        for index in ("ix_stage_history_to", "ix_stage_history_reach"):
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index}")
        conn.exec_driver_sql("ALTER TABLE stage_history DROP COLUMN left_at")
        set_meta(conn, "schema_version", "1")


def test_version_1_store_is_migrated_and_time_in_stage_filled(db_url):
    store = open_store(db_url)
    _downgrade_to_v1(store)
    with store.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO stage_history (lead_id, from_stage, to_stage, at, cause) VALUES "
            "(1, NULL, 'new', '2026-01-01 00:00:00', 'import'), (1, 'new', 'mql', '2026-01-05 00:00:00', 'rule'), "
            "(2, NULL, 'new', '2026-01-02 00:00:00', 'import')")
    store.dispose()
    store = open_store(db_url)
    sh = models.StageChange.__table__
    with store.connect() as conn:
        assert get_meta(conn, "schema_version") == str(models.SCHEMA_VERSION)
        rows = conn.execute(select(sh.c.lead_id, sh.c.to_stage, sh.c.left_at).order_by(sh.c.id)).all()
    assert [tuple(r) for r in rows] == [(1, "new", datetime(2026, 1, 5)), (1, "mql", None), (2, "new", None)]
    store.dispose()


def test_newer_store_is_refused(db_url):
    store = open_store(db_url)
    with store.begin() as conn:
        set_meta(conn, "schema_version", str(models.SCHEMA_VERSION + 1))
    store.dispose()
    with pytest.raises(StoreError, match="newer than this leadctl"):
        open_store(db_url)


def test_version_3_store_gets_the_covering_followups_index(db_url):
    """3 → 4: ix_followups_lead_rule replaces ix_followups_lead (the sweep's covering index)."""
    store = open_store(db_url)
    with store.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_followups_lead_rule")
        conn.exec_driver_sql("CREATE INDEX ix_followups_lead ON followups (lead_id, status)")
        set_meta(conn, "schema_version", "3")
    store.dispose()
    store = open_store(db_url)
    with store.connect() as conn:
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("followups")}
        assert get_meta(conn, "schema_version") == str(models.SCHEMA_VERSION)
    assert "ix_followups_lead_rule" in indexes and "ix_followups_lead" not in indexes
    store.dispose()
