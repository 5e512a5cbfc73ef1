"""Activity import reads and maps files like lead imports: a mapping file names type, at and note too."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from leadctl.errors import UsageError
from leadctl.ingest.activities import import_activities
from leadctl.ingest.batches import get_batch
from leadctl.store.models import Activity

from conftest import add_lead, write_csv

NOW = datetime(2026, 11, 20, 10, 0)
ACTS = Activity.__table__


def _activities(store) -> list[tuple]:
    with store.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(ACTS.c.type, ACTS.c.at, ACTS.c.note, ACTS.c.source, ACTS.c.fields).order_by(ACTS.c.id))]


def test_a_mapping_file_names_the_type_time_and_note_columns(store, rules, tmp_path):
    add_lead(store, email="ada@example.com")
    events = write_csv(tmp_path / "e.csv", ["Contact", "Event Name", "Occurred", "Remarks", "Page"],
                       [["ada@example.com", "Demo Request", "2026-11-19 15:00", "asked twice", "/pricing"]])
    (tmp_path / "map.yaml").write_text("columns:\n  Contact: email\n  Event Name: type\n  Occurred: at\n"
                                       "  Remarks: note\n  Page: attributes.url\n")
    res = import_activities(store, events, now=NOW, mapping=str(tmp_path / "map.yaml"), rules=rules)
    assert (res.created, res.rejected) == (1, 0)
    assert _activities(store) == [("demo_request", datetime(2026, 11, 19, 15, 0), "asked twice", "import",
                                   {"url": "/pricing"})]


def test_mapping_defaults_fill_a_missing_type_and_source(store, rules, tmp_path):
    add_lead(store, email="ada@example.com")
    events = write_csv(tmp_path / "e.csv", ["email", "at"], [["ada@example.com", "2026-11-19 15:00"]])
    (tmp_path / "map.yaml").write_text("defaults:\n  type: page_view\n  source: website\n")
    res = import_activities(store, events, now=NOW, mapping=str(tmp_path / "map.yaml"), rules=rules)
    assert res.created == 1
    assert _activities(store)[0][:4] == ("page_view", datetime(2026, 11, 19, 15, 0), None, "website")


def test_a_mapping_aliases_an_event_header(store, rules, tmp_path):
    add_lead(store, email="ada@example.com")
    events = write_csv(tmp_path / "e.csv", ["email", "Kind"], [["ada@example.com", "call"]])
    (tmp_path / "map.yaml").write_text("aliases:\n  type: [Kind]\n")
    res = import_activities(store, events, now=NOW, mapping=str(tmp_path / "map.yaml"), rules=rules)
    assert res.created == 1 and _activities(store)[0][0] == "call"


@pytest.mark.parametrize("text, message", [
    ("columns:\n  Event: stage\n", "unknown field 'stage'"),
    ("match: email\n", "cannot set match keys"),
])
def test_a_mapping_an_activity_import_cannot_use_is_refused_with_the_file(store, rules, tmp_path, text, message):
    events = write_csv(tmp_path / "e.csv", ["email", "type"], [["ada@example.com", "call"]])
    (tmp_path / "map.yaml").write_text(text)
    with pytest.raises(UsageError) as exc:
        import_activities(store, events, now=NOW, mapping=str(tmp_path / "map.yaml"), rules=rules)
    assert message in exc.value.describe() and "map.yaml" in exc.value.describe()


def test_a_lead_header_alias_finds_the_lead(store, rules, tmp_path):
    add_lead(store, email="ada@example.com")
    events = write_csv(tmp_path / "e.csv", ["Work Email", "type"], [["ada@example.com", "call"]])
    assert import_activities(store, events, now=NOW, rules=rules).created == 1


def test_the_batch_records_the_wall_clock_and_the_events_the_logical_time(store, rules, tmp_path):
    add_lead(store, email="ada@example.com")
    events = write_csv(tmp_path / "e.csv", ["email", "type"], [["ada@example.com", "call"]])
    before = datetime.utcnow().replace(microsecond=0)
    res = import_activities(store, events, now=NOW, rules=rules)
    batch = get_batch(store, res.batch)
    assert batch["kind"] == "activities"
    assert batch["started_at"] >= before and batch["finished_at"] >= batch["started_at"]
    assert _activities(store)[0][1] == NOW  # a row without a time happened at --now
