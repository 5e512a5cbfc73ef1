"""The bulk write path stores exactly what SQLAlchemy's own executemany stores."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, create_engine, select
from sqlalchemy.dialects import sqlite

from leadctl.ingest.fastpath import BulkStatement, _datetime_processor
from leadctl.store import models
from leadctl.store.models import SQLModel

LEADS = models.Lead.__table__
KEYS = ("id", "email", "phone", "employees", "annual_revenue", "created_at", "updated_at", "stage_changed_at",
        "last_activity_at", "do_not_contact", "attributes", "batch_id", "stage", "first_name")


def _rows():
    base = datetime(2026, 11, 20, 10, 0)
    rows = []
    for i in range(1, 60):
        rows.append({
            "id": i, "email": f"p{i}@example.com" if i % 3 else None, "phone": None if i % 4 else "+14155550123",
            "employees": i * 7 if i % 2 else None, "annual_revenue": (i * 1000.5) if i % 5 else None,
            "created_at": base - timedelta(days=i, microseconds=i * 37), "updated_at": base,
            "stage_changed_at": None if i % 6 == 0 else datetime(1900 + i, 1 + i % 12, 1 + i % 28, i % 24, i, i % 60),
            "last_activity_at": datetime(2200, 12, 31, 23, 59, 59, 999999) if i == 7 else None,
            "do_not_contact": bool(i % 2), "attributes": None if i % 7 == 0 else {"k": i, "ü": "ñ", "n": None},
            "batch_id": 3, "stage": "new", "first_name": "Zoë" if i % 2 else "",
        })
    return rows


def _raw(engine):
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT *, typeof(created_at), typeof(attributes), typeof(do_not_contact), typeof(annual_revenue) "
            "FROM leads ORDER BY id").fetchall()


@pytest.mark.parametrize("rows", [_rows()])
def test_bulk_insert_stores_what_sqlalchemy_stores(tmp_path, rows):
    a = create_engine(f"sqlite:///{tmp_path / 'a.db'}")
    b = create_engine(f"sqlite:///{tmp_path / 'b.db'}")
    for e in (a, b):
        SQLModel.metadata.create_all(e)
    with a.begin() as conn:
        conn.execute(LEADS.insert(), rows)
    with b.begin() as conn:
        bulk = BulkStatement(conn.dialect, LEADS.insert(), KEYS)
        assert bulk.sql is not None  # the fast path is taken on SQLite
        bulk.execute(conn, rows)
    assert _raw(a) == _raw(b)
    # and SQLAlchemy reads it back as the same values
    with b.connect() as conn:
        back = {r.id: r for r in conn.execute(select(LEADS))}
    for row in rows:
        assert back[row["id"]].created_at == row["created_at"]
        assert back[row["id"]].attributes == row["attributes"]


def test_bulk_update_stores_what_sqlalchemy_stores(tmp_path):
    rows = _rows()
    stmt = LEADS.update().where(LEADS.c.id == bindparam("_id")).values(
        created_at=bindparam("created_at"), attributes=bindparam("attributes"), email=bindparam("email"))
    changes = [{"_id": r["id"], "created_at": r["updated_at"] - timedelta(hours=r["id"]),
                "attributes": {"x": r["id"]} if r["id"] % 2 else None, "email": None} for r in rows[::2]]
    engines = []
    for name, use_bulk in (("a", False), ("b", True)):
        e = create_engine(f"sqlite:///{tmp_path / name}.db")
        SQLModel.metadata.create_all(e)
        with e.begin() as conn:
            conn.execute(LEADS.insert(), rows)
            if use_bulk:
                BulkStatement(conn.dialect, stmt, ("_id", "created_at", "attributes", "email")).execute(conn, changes)
            else:
                conn.execute(stmt, changes)
        engines.append(e)
    assert _raw(engines[0]) == _raw(engines[1])


def test_datetime_processor_matches_sqlalchemy():
    slow = models.Lead.__table__.c.created_at.type._cached_bind_processor(sqlite.dialect())
    fast = _datetime_processor(slow)
    assert fast is not slow
    values = [datetime(1900, 1, 1), datetime(2026, 11, 20, 10, 0), datetime(2200, 12, 31, 23, 59, 59, 999999),
              datetime(2021, 4, 5, 6, 7, 8, 90), None, date(2021, 4, 5),
              datetime(2021, 4, 5, 6, 7, 8, tzinfo=timezone.utc)]
    values += [datetime(2000, 1, 1) + timedelta(seconds=i * 7919.123457) for i in range(2000)]
    for v in values:
        assert fast(v) == slow(v), v


def test_non_positional_dialects_use_plain_execute():
    from sqlalchemy.dialects import postgresql

    bulk = BulkStatement(postgresql.dialect(), LEADS.insert(), KEYS)
    assert bulk.sql is None
