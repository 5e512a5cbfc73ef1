"""leads.stages_entered always equals the set of stages the lead's history shows.

The reports count "reached stage X" from that column, so every writer of stage history
(import, process, a manual move, a merge, an undo, the migration) must keep it in step.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from leadctl.engine.leadops import merge_leads
from leadctl.engine.process import process_leads
from leadctl.engine.stages import set_stage
from leadctl.ingest.batches import undo_batch
from leadctl.ingest.importer import ImportOptions, import_leads
from leadctl.rules.loader import load_rules
from leadctl.store import models
from leadctl.store.db import open_store
from leadctl.store.history import SEP, entered_stages, stages_text

from conftest import EXAMPLES, REPO

NOW = datetime(2026, 11, 20, 10, 0)
LEADS = models.Lead.__table__
HISTORY = models.StageChange.__table__


def mismatches(store) -> dict[int, tuple[set, set]]:
    """Leads whose stages_entered differs from their history: id -> (stored, from history)."""
    with store.connect() as conn:
        stored = {lid: set(entered_stages(text)) for lid, text in conn.execute(
            select(LEADS.c.id, LEADS.c.stages_entered))}
        shown: dict[int, set] = {lid: set() for lid in stored}
        for lid, stage in conn.execute(select(HISTORY.c.lead_id, HISTORY.c.to_stage)):
            shown.setdefault(lid, set()).add(stage)
    return {lid: (stored.get(lid), shown[lid]) for lid in shown if stored.get(lid) != shown[lid]}


def write_csv(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_every_history_writer_keeps_stages_entered(store, tmp_path):
    rules = load_rules(REPO / "rules")
    import_leads(store, [str(EXAMPLES / "hubspot_contacts.csv")], ImportOptions(rejects=str(tmp_path / "r.csv")),
                 rules, now=NOW)
    assert not mismatches(store)
    with store.connect() as conn:
        assert conn.execute(select(LEADS.c.stages_entered).where(LEADS.c.stage == "mql")).scalar() == f"{SEP}mql{SEP}"

    process_leads(store, rules, now=NOW)  # qualification moves some leads on
    assert not mismatches(store)

    # A second import moves an existing lead (history row via the one writer) and adds a new one.
    with store.connect() as conn:
        lead_id, email = conn.execute(select(LEADS.c.id, LEADS.c.email).where(LEADS.c.email.is_not(None))
                                      .order_by(LEADS.c.id)).first()
    batch = import_leads(store, [write_csv(tmp_path / "b.csv", f"Email,Lifecycle Stage\n{email},opportunity\n"
                                           "new.person@example.org,sql\n")],
                         ImportOptions(rejects=str(tmp_path / "r2.csv")), rules, now=NOW + timedelta(hours=1)).batch
    assert not mismatches(store)
    with store.connect() as conn:
        assert "opportunity" in entered_stages(conn.execute(
            select(LEADS.c.stages_entered).where(LEADS.c.id == lead_id)).scalar())

    set_stage(store, str(lead_id), "customer", now=NOW + timedelta(hours=2), stages=rules)
    assert not mismatches(store)

    undo_batch(store, batch)  # its history rows go; the lead keeps the stages it entered otherwise
    assert not mismatches(store)

    with store.connect() as conn:
        a, b = conn.execute(select(LEADS.c.id).order_by(LEADS.c.id.desc()).limit(2)).scalars().all()
    merge_leads(store, str(a), str(b), now=NOW + timedelta(hours=3))
    assert not mismatches(store)


def test_migration_step_fills_stages_entered(db_url):
    store = open_store(db_url)
    with store.begin() as conn:
        conn.execute(LEADS.insert(), [dict(id=1, stage="mql", created_at=NOW, updated_at=NOW),
                                      dict(id=2, stage="new", created_at=NOW, updated_at=NOW)])
        conn.execute(HISTORY.insert(), [dict(lead_id=1, to_stage="new", at=NOW, cause="import"),
                                        dict(lead_id=1, to_stage="mql", at=NOW + timedelta(days=1), cause="rule")])
        # As if the step had not run yet (stores from before it: tests/store/test_migrations.py).
        conn.execute(models.Migration.__table__.delete().where(models.Migration.name == "leads_stages_entered"))
    store.dispose()
    store = open_store(db_url)
    with store.connect() as conn:
        rows = dict(conn.execute(select(LEADS.c.id, LEADS.c.stages_entered)).all())
    assert rows == {1: stages_text(["new", "mql"]), 2: None}
    assert not mismatches(store)
    store.dispose()


def test_stages_text_round_trip():
    assert stages_text([]) is None and entered_stages(None) == []
    assert stages_text(["new", "mql", "new", None]) == f"{SEP}new{SEP}mql{SEP}"
    assert entered_stages(stages_text(["Sales qualified", "100% won_"])) == ["Sales qualified", "100% won_"]
