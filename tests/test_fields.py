"""The catalogue of lead fields matches the leads table, and the lists built from it keep their order."""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String

from leadctl import fields
from leadctl.store.models import LEAD_FIELDS, Lead

_TYPES = {"text": String, "int": Integer, "float": Float, "datetime": DateTime, "bool": Boolean, "json": JSON}


def test_every_lead_column_has_one_entry_of_its_type():
    columns = Lead.__table__.c
    assert sorted(f.name for f in fields.CATALOGUE) == sorted(c.name for c in columns)
    for f in fields.CATALOGUE:
        kind = columns[f.name].type
        kind = getattr(kind, "impl_instance", kind)  # SQLModel's AutoString decorates a String
        assert isinstance(kind, _TYPES[f.type]), (f.name, kind)


def test_export_order_and_the_lists_built_from_it():
    assert LEAD_FIELDS == fields.EXPORTED
    assert LEAD_FIELDS[:3] == ("email", "phone", "first_name") and LEAD_FIELDS[-2:] == ("external_id", "linkedin")
    assert fields.IDENTITY == ("email", "phone", "external_id", "linkedin")
    assert set(fields.IDENTITY) <= set(fields.MATCHABLE) <= set(fields.IMPORTED) <= set(fields.EXPORTED)
    assert "linkedin" in fields.PERSONAL and "company" not in fields.PERSONAL
    assert set(fields.DAYS_SINCE.values()) <= set(fields.CONDITION)


def test_the_users_of_the_catalogue_read_it():
    from leadctl.engine.leadops import PERSONAL_FIELDS
    from leadctl.engine.leadquery import SORT_FIELDS
    from leadctl.ingest.headers import FIELDS
    from leadctl.ingest.matching import IMPORTED
    from leadctl.rules.conditions import LEAD_COLUMNS

    assert PERSONAL_FIELDS == fields.PERSONAL and SORT_FIELDS == fields.SORTABLE
    assert LEAD_COLUMNS == fields.CONDITION and "email_domain" in LEAD_COLUMNS
    assert set(FIELDS) == set(fields.IMPORTED) | {"full_name", "stage_at"}
    assert IMPORTED == tuple(n for n in fields.IMPORTED if n != "stage")
