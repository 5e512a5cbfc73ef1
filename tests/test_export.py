from __future__ import annotations

import csv
import io
import json
import os
from datetime import datetime

from sqlalchemy import insert

from leadctl.engine.leadquery import LeadFilter
from leadctl.export import BASE_COLUMNS, attribute_keys, export_leads
from leadctl.store.models import LEAD_FIELDS, Lead

D = datetime(2026, 1, 10, 9, 5, 0)


def fill(store):
    with store.begin() as conn:
        for row in [
            dict(email="a@x.com", company='=HYPERLINK("http://evil","click")', phone="+4930123456",
                 annual_revenue=-12.5, created_at=D, updated_at=D, stage="mql", score=40, do_not_contact=True,
                 attributes={"budget": "50k", "tags": ["a", "b"]}),
            dict(email="b@x.com", company="@SUM(A1)", first_name="-12.5", created_at=D, updated_at=D,
                 attributes={"total_visits": 7}),
            dict(email="c@x.com", company="Plain", created_at=D, updated_at=D, stage="customer"),
        ]:
            conn.execute(insert(Lead.__table__).values(**row))


def test_csv_columns_and_injection(store):
    fill(store)
    buf = io.StringIO()
    assert export_leads(store, LeadFilter(), buf, fmt="csv") == 3
    rows = list(csv.reader(io.StringIO(buf.getvalue())))
    assert rows[0] == ["id", *LEAD_FIELDS, "attributes.budget", "attributes.tags", "attributes.total_visits"]
    head = rows[0]
    first = dict(zip(head, rows[1]))
    assert first["company"].startswith("'=HYPERLINK")
    assert first["phone"] == "+4930123456" and first["annual_revenue"] == "-12.5"
    assert first["created_at"] == "2026-01-10T09:05:00Z" and first["do_not_contact"] == "true"
    assert first["attributes.tags"] == '["a","b"]' and first["attributes.total_visits"] == ""
    second = dict(zip(head, rows[2]))
    assert second["company"] == "'@SUM(A1)" and second["first_name"] == "-12.5"


def test_json_and_jsonl_keys_are_stable(store):
    fill(store)
    buf = io.StringIO()
    export_leads(store, LeadFilter(), buf, fmt="json")
    items = json.loads(buf.getvalue())
    keys = [list(i) for i in items]
    assert keys[0] == keys[1] == keys[2] == list(BASE_COLUMNS) + ["attributes.budget", "attributes.tags",
                                                                   "attributes.total_visits"]
    assert items[0]["do_not_contact"] is True and items[0]["attributes.tags"] == ["a", "b"]
    assert items[0]["company"].startswith("=HYPERLINK")  # JSON is data, not a spreadsheet
    buf = io.StringIO()
    export_leads(store, LeadFilter(stage="customer"), buf, fmt="jsonl")
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert len(lines) == 1 and lines[0]["email"] == "c@x.com"
    buf = io.StringIO()
    export_leads(store, LeadFilter(stage="nothing"), buf, fmt="json")
    assert json.loads(buf.getvalue()) == []


def test_attribute_keys_follow_the_filter(store):
    fill(store)
    with store.connect() as conn:
        assert attribute_keys(conn, LeadFilter()) == ["budget", "tags", "total_visits"]
        assert attribute_keys(conn, LeadFilter(stage="mql")) == ["budget", "tags"]
        assert attribute_keys(conn, LeadFilter(stage="customer")) == []


def test_cli_export_to_private_file(store, db_url, tmp_path, run_cli):
    fill(store)
    out = tmp_path / "leads.csv"
    res = run_cli("--db", db_url, "export", "leads", "--output", out, "--min-score", "10")
    assert res.exit_code == 0, res.output
    assert oct(os.stat(out).st_mode & 0o777) == "0o600"
    rows = list(csv.DictReader(out.open()))
    assert [r["email"] for r in rows] == ["a@x.com"]
    res = run_cli("--db", db_url, "export", "leads", "--format", "jsonl", "--search", "B@X")
    assert [json.loads(x)["email"] for x in res.stdout.splitlines()] == ["b@x.com"]
    assert run_cli("--db", db_url, "export", "leads", "--format", "xml").exit_code == 2
