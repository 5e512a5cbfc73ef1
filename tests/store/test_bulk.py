"""store.bulk stores exactly what SQLAlchemy's own `conn.execute(table.insert(), rows)` stores."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String, TypeDecorator, bindparam, func, select

from leadctl.store import bulk, models

LEADS = models.Lead.__table__
TABLES = [models.Lead.__table__, models.StageChange.__table__, models.Followup.__table__,
          models.Assignment.__table__, models.BatchChange.__table__, models.Activity.__table__,
          models.LeadIdentifier.__table__, models.PossibleDuplicate.__table__]

_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
_json_scalar = st.none() | st.booleans() | st.integers(-10**6, 10**6) | _text
_json = st.recursive(_json_scalar, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(_text, inner, max_size=3), max_leaves=6)
_datetimes = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 12, 31))


def _values(column):
    """A strategy for values of `column` (the lead references are filled in by the test)."""
    t = column.type
    if isinstance(t, TypeDecorator):  # SQLModel's AutoString
        t = t.impl_instance
    if isinstance(t, DateTime):
        out = _datetimes
    elif isinstance(t, JSON):
        return _json | st.dictionaries(_text, _json, max_size=4)  # None included: stored as JSON null
    elif isinstance(t, Boolean):
        out = st.booleans()
    elif isinstance(t, Integer):
        out = st.integers(-2**31, 2**31 - 1)
    elif isinstance(t, Float):
        out = st.floats(allow_nan=False, allow_infinity=False, width=32)
    elif isinstance(t, String):
        n = t.length or 40
        out = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=min(n, 40))
    else:  # pragma: no cover - a new column type needs a strategy here
        raise AssertionError(f"no strategy for {column.table.name}.{column.name} ({t!r})")
    return out if not column.nullable else st.none() | out


def _rows(table):
    cols = [c for c in table.columns if c.name != "id"]
    row = st.fixed_dictionaries({c.name: _values(c) for c in cols})
    return st.lists(row, min_size=1, max_size=6)


def _stored(conn, table, ids):
    """Each row's columns as the database holds them: SQLite's quote() (type and bytes), else text."""
    if bulk.is_sqlite(conn):
        exprs = [func.quote(c) for c in table.columns if c.name != "id"]
    else:
        from sqlalchemy import Text, cast

        exprs = [cast(c, Text) for c in table.columns if c.name != "id"]
    return [tuple(r) for r in conn.execute(select(*exprs).where(table.c.id.in_(ids)).order_by(table.c.id))]


def _leads(conn, n=3):
    now = datetime(2026, 1, 1)
    return bulk.insert_returning_ids(conn, LEADS, [{"created_at": now, "updated_at": now}] * n)


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_insert_stores_what_sqlalchemy_stores(store, table):
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(rows=_rows(table))
    def check(rows):
        with store.begin() as conn:
            leads = _leads(conn)
            for r in rows:
                for ref in ("lead_id", "other_id"):
                    if ref in r:
                        r[ref] = leads[hash(str(r[ref])) % len(leads)]
            plain = [r for (r,) in conn.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True),
                                                rows)]
            fast = bulk.insert_returning_ids(conn, table, rows)
            assert _stored(conn, table, plain) == _stored(conn, table, fast)
            before = conn.execute(select(func.max(table.c.id))).scalar()
            bulk.insert(conn, table, rows)
            after = list(range(before + 1, before + 1 + len(rows)))
            assert _stored(conn, table, after) == _stored(conn, table, plain)
            conn.rollback()
    check()


def test_update_by_id_stores_what_sqlalchemy_stores(store):
    base = datetime(2026, 11, 20, 10, 0)
    keys = ("created_at", "attributes", "email", "do_not_contact", "annual_revenue")
    with store.begin() as conn:
        a = _leads(conn, 20)
        b = _leads(conn, 20)
        changes = [{"created_at": base - timedelta(hours=i, microseconds=i), "email": None if i % 3 else f"p{i}@x.org",
                    "attributes": {"x": i, "ü": [1, None]} if i % 2 else None, "do_not_contact": bool(i % 2),
                    "annual_revenue": i * 0.1} for i in range(20)]
        stmt = LEADS.update().where(LEADS.c.id == bindparam("_id")).values({k: bindparam(k) for k in keys})
        conn.execute(stmt, [{"_id": lid, **c} for lid, c in zip(a, changes)])
        bulk.update_by_id(conn, LEADS, [{"id": lid, **c} for lid, c in zip(b, changes)])
        assert _stored(conn, LEADS, a) == _stored(conn, LEADS, b)


def test_ids_come_back_in_row_order(store):
    now = datetime(2026, 1, 1)
    with store.begin() as conn:
        _leads(conn, 5)
        conn.execute(LEADS.delete().where(LEADS.c.id == 5))  # a gap below the next ids
        rows = [{"email": f"p{i}@example.com", "created_at": now, "updated_at": now} for i in range(1234)]
        ids = bulk.insert_returning_ids(conn, LEADS, rows)
        # SQLite gives one above the largest, in order (the deleted 5 again); PostgreSQL its sequence's next.
        first = 5 if bulk.is_sqlite(conn) else ids[0]
        assert ids == list(range(first, first + 1234))
        back = dict(conn.execute(select(LEADS.c.id, LEADS.c.email).where(LEADS.c.id.in_(ids))).all())
    assert [back[i] for i in ids] == [r["email"] for r in rows]


def test_ids_come_back_in_row_order_when_the_rowids_ran_out(store):
    """Past the largest rowid SQLite picks free rowids at random: the ids still come back in row order."""
    now = datetime(2026, 1, 1)
    with store.begin() as conn:
        if not bulk.is_sqlite(conn):
            pytest.skip("SQLite's rowids")
        conn.execute(LEADS.insert().values(id=2 ** 63 - 1, created_at=now, updated_at=now))
        rows = [{"email": f"p{i}@example.com", "created_at": now, "updated_at": now} for i in range(40)]
        ids = bulk.insert_returning_ids(conn, LEADS, rows)
        assert len(set(ids)) == 40
        back = dict(conn.execute(select(LEADS.c.id, LEADS.c.email).where(LEADS.c.id.in_(ids))).all())
    assert [back[i] for i in ids] == [r["email"] for r in rows]


def test_defaults_of_unnamed_columns_apply(store):
    """A column no row names takes its default (followups.status → 'pending'), as with conn.execute."""
    fu = models.Followup.__table__
    with store.begin() as conn:
        (lid,) = _leads(conn, 1)
        row = {"lead_id": lid, "action": "call", "due_at": datetime(2026, 1, 2), "created_at": datetime(2026, 1, 1)}
        bulk.insert(conn, fu, [row])
        (ref,) = conn.execute(fu.insert().returning(fu.c.id), [row]).scalars()
        got = conn.execute(select(fu.c.status, fu.c.kind).order_by(fu.c.id)).all()
    assert got[0] == got[1] == ("pending", "cadence") and ref


def test_sqlite_conversions_match_sqlalchemys_own():
    """Every value the SQLite converters take gives what the column type's bind processor gives."""
    from sqlalchemy.dialects import sqlite

    d = sqlite.dialect()
    dt = LEADS.c.created_at.type
    values = [datetime(1900, 1, 1), datetime(2200, 12, 31, 23, 59, 59, 999999), datetime(2021, 4, 5, 6, 7, 8, 90),
              None, date(2021, 4, 5), datetime(2021, 4, 5, 6, 7, 8, tzinfo=timezone.utc)]
    values += [datetime(2000, 1, 1) + timedelta(seconds=i * 7919.123457) for i in range(500)]
    slow = dt.dialect_impl(d).bind_processor(d)
    fast = bulk.converter(dt, d)
    for v in values:
        assert fast(v) == slow(v), v
    with pytest.raises(TypeError):
        fast("2021-01-01")
    b = LEADS.c.do_not_contact.type
    slow, fast = b.dialect_impl(d).bind_processor(d), bulk.converter(b, d)
    for v in (True, False, None, 0, 1):
        assert fast(v) == slow(v)
    for bad in ("yes", 2):
        with pytest.raises(TypeError):
            fast(bad)


def _reference_tuples(plan, rows, keys=None):
    """The row-at-a-time conversion `_Plan.tuples` replaced: each cell through its own converter."""
    convert = [bulk.converter(LEADS.c[c].type, bulk_dialect()) for c in plan._keys]
    out = []
    for row in rows:
        if keys is None:
            values = [row.get(c) for c in plan._keys]
        else:
            values = [row[list(keys).index(c)] for c in plan._keys]
        values = [f(v) if f else v for f, v in zip(convert, values)]
        out.append(tuple(values) + plan._constants)
    return out


def bulk_dialect():
    from sqlalchemy.dialects import sqlite

    return sqlite.dialect()


_TZ = st.sampled_from([None, timezone.utc, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5))])
_cell_datetimes = st.none() | st.builds(lambda d, tz: d.replace(tzinfo=tz), _datetimes, _TZ) | st.dates()
_cell_bools = st.sampled_from([None, True, False, 0, 1, 0.0, 1.0])


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=st.lists(st.fixed_dictionaries({"created_at": _cell_datetimes, "last_activity_at": _cell_datetimes,
                                            "attributes": st.none() | _json, "do_not_contact": _cell_bools,
                                            "email": st.none() | _text}), min_size=1, max_size=30),
       as_tuples=st.booleans())
def test_column_wise_conversion_equals_row_at_a_time(rows, as_tuples):
    """The column-wise conversion (datetimes once per distinct value, equal aware times kept apart)
    gives exactly the per-cell converters' values, for dict rows and for tuple rows."""
    from sqlalchemy import create_engine

    engine = create_engine("sqlite://")
    keys = ("created_at", "attributes", "email", "do_not_contact", "last_activity_at")
    with engine.connect() as conn:
        plan = bulk._plan(conn, LEADS, keys)
        if as_tuples:
            given = tuple(reversed(keys))
            shaped = [tuple(r[k] for k in given) for r in rows]
            assert plan.tuples(shaped, given) == _reference_tuples(plan, shaped, given)
        else:
            assert plan.tuples(rows) == _reference_tuples(plan, rows)


def test_column_wise_conversion_refuses_what_the_converters_refuse():
    from sqlalchemy import create_engine

    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        plan = bulk._plan(conn, LEADS, ("created_at", "do_not_contact"))
        with pytest.raises(TypeError):
            plan.tuples([{"created_at": "2021-01-01", "do_not_contact": True}])
        with pytest.raises(TypeError):
            plan.tuples([{"created_at": None, "do_not_contact": 2}])
        with pytest.raises(TypeError):
            plan.tuples([{"created_at": None, "do_not_contact": [1]}])


def test_a_document_shared_by_rows_is_stored_as_each_row_alone_would_be():
    import json

    from sqlalchemy import create_engine

    shared = {"fp": "a1", "rules": [{"name": "ü", "points": 5}], "stage_rule": None}
    other = {"fp": "b2"}
    rows = [{"attributes": d} for d in (shared, other, shared, None, dict(shared), shared)]
    with create_engine("sqlite://").connect() as conn:
        got = [t[0] for t in bulk._plan(conn, LEADS, ("attributes",)).tuples(rows)]
    assert got == [json.dumps(r["attributes"]) for r in rows]


def test_update_where_changes_what_sqlalchemys_update_changes(store):
    """UPDATE … WHERE lead_id = ? AND left_at IS NULL, as stage history closes a lead's open row."""
    hist = models.StageChange.__table__
    at = datetime(2026, 11, 20, 10, 0)
    with store.begin() as conn:
        sides = []
        for _ in range(2):
            leads = _leads(conn, 4)
            rows = [{"lead_id": lid, "to_stage": "new", "at": at, "cause": "rule",
                     "left_at": None if i % 2 else at + timedelta(hours=i)} for i, lid in enumerate(leads * 2)]
            bulk.insert(conn, hist, rows)
            sides.append(leads)
        closes = [(at + timedelta(days=i, microseconds=7), lid) for i, lid in enumerate(sides[0])]
        conn.execute(hist.update().where(hist.c.lead_id == bindparam("lid"), hist.c.left_at.is_(None))
                     .values(left_at=bindparam("left")), [{"left": left, "lid": lid} for left, lid in closes])
        bulk.update_where(conn, hist, [(left, b) for (left, _), b in zip(closes, sides[1])], ("left_at",),
                          ("lead_id",), null=("left_at",))

        def stored(leads):
            q = select(func.quote(hist.c.left_at)).where(hist.c.lead_id.in_(leads)).order_by(hist.c.id) \
                if bulk.is_sqlite(conn) else select(hist.c.left_at).where(hist.c.lead_id.in_(leads)).order_by(hist.c.id)
            return [r[0] for r in conn.execute(q)]
        assert stored(sides[0]) == stored(sides[1])
        assert sum(v is None or v == "NULL" for v in stored(sides[1])) == 0


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=4) | st.integers() | st.booleans() | st.none(), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_json_text_is_json_dumps(value):
    """The JSON encoder built once gives json.dumps' text (what SQLAlchemy's JSON type stores)."""
    import json

    assert bulk._json_text(value) == json.dumps(value)
    assert bulk._column(bulk._json_text, [value, None, value]) == [json.dumps(value), "null", json.dumps(value)]
