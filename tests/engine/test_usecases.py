"""Use cases own their transactions and decide "then process" once, whoever calls them."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from leadctl.engine.leadquery import LeadFilter, list_leads
from leadctl.ingest.importer import ImportOptions
from leadctl.store.tables import ACTIVITIES, LEADS
from leadctl.usecases import (
    import_activities_and_process,
    import_leads_and_process,
    log_activity_and_process,
    undo_and_process,
)

from conftest import add_lead, write_csv

NOW = datetime(2026, 11, 20, 10, 0)


def _scores(store) -> dict[str, int | None]:
    with store.connect() as conn:
        return dict(conn.execute(select(LEADS.c.email, LEADS.c.score)).all())


def test_an_import_processes_the_leads_it_created_unless_told_not_to(store, rules, tmp_path):
    path = write_csv(tmp_path / "l.csv", ["Email", "Job Title"], [["ada@example.com", "CEO"]])
    done = import_leads_and_process(store, [path], ImportOptions(), rules, now=NOW, process=False)
    assert done.processed is None and _scores(store)["ada@example.com"] in (None, 0)
    path = write_csv(tmp_path / "m.csv", ["Email", "Job Title"], [["bob@example.com", "CEO"]])
    done = import_leads_and_process(store, [path], ImportOptions(), rules, now=NOW)
    assert done.processed is not None and done.processed.counts["leads"] == 1
    assert _scores(store)["bob@example.com"] is not None


def test_a_dry_run_import_processes_nothing(store, rules, tmp_path):
    path = write_csv(tmp_path / "l.csv", ["Email"], [["ada@example.com"]])
    done = import_leads_and_process(store, [path], ImportOptions(dry_run=True), rules, now=NOW)
    assert done.processed is None and done.result.batch is None and _scores(store) == {}


def test_logging_resolves_the_lead_and_processes_it_only_with_rules(store, rules):
    lead = add_lead(store, email="ada@example.com")
    done = log_activity_and_process(store, "ADA@example.com", "Demo Request", rules=None, now=NOW)
    assert (done.lead_id, done.processed) == (lead, None)
    done = log_activity_and_process(store, f"id:{lead}", "call", rules=rules, now=NOW,
                                    at=datetime(2026, 11, 19, 9, 0), note="left a message")
    assert done.processed is not None and done.processed.counts["leads"] == 1
    with store.connect() as conn:
        logged = conn.execute(select(ACTIVITIES.c.type, ACTIVITIES.c.at).order_by(ACTIVITIES.c.id)).all()
    assert [tuple(r) for r in logged] == [("demo_request", NOW), ("call", datetime(2026, 11, 19, 9, 0))]


def test_an_activity_import_then_its_undo_both_process_the_leads(store, rules, tmp_path):
    add_lead(store, email="ada@example.com")
    events = write_csv(tmp_path / "e.csv", ["email", "type"], [["ada@example.com", "demo_request"]])
    done = import_activities_and_process(store, events, rules, now=NOW)
    assert done.result.created == 1 and done.processed is not None
    undone = undo_and_process(store, done.result.batch, rules=rules, now=NOW)
    assert undone.activities_deleted == 1


def test_list_leads_counts_all_matches_only_when_the_page_is_full(store):
    for i in range(3):
        add_lead(store, email=f"p{i}@example.com")
    page = list_leads(store, LeadFilter(limit=2, sort="id"), count=True)
    assert [r[2] for r in page.rows] == ["p0@example.com", "p1@example.com"] and page.total == 3
    assert list_leads(store, LeadFilter(limit=5), count=True).total is None
