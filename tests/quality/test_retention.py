"""`leads forget --inactive-since AGE --stage S`: many leads erased as one `forget`, with a dry run of counts."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from leadctl.store.tables import ACTIVITIES, ERASURES, LEADS

from conftest import add_lead

NOW = "2026-11-20T10:00"


def _erased(store):
    with store.connect() as conn:
        return {lid for (lid,) in conn.execute(select(LEADS.c.id).where(LEADS.c.erased_at.is_not(None)))}


def test_dry_run_counts_then_forget_erases_only_those(store, db_url, run_cli):
    old = add_lead(store, at=datetime(2022, 1, 5), email="old@x.com", first_name="Old", stage="lost")
    old_active = add_lead(store, at=datetime(2022, 1, 5), email="back@x.com", stage="lost",
                          last_activity_at=datetime(2026, 10, 1))
    old_new = add_lead(store, at=datetime(2023, 3, 1), email="quiet@x.com", stage="new")
    recent = add_lead(store, at=datetime(2026, 9, 1), email="new@x.com", stage="lost")
    with store.begin() as conn:
        conn.execute(ACTIVITIES.insert().values(lead_id=old, type="note", at=datetime(2022, 1, 6), note="private"))

    r = run_cli("--db", db_url, "--now", NOW, "leads", "forget", "--inactive-since", "3y", "--dry-run")
    assert r.code == 0, r.err
    assert "would erase the personal data of 2 leads without activity since 2023-11-21" in r.err
    assert "lost" in r.out and "new" in r.out
    assert _erased(store) == set()

    r = run_cli("--db", db_url, "--now", NOW, "leads", "forget", "--inactive-since", "3y", "--stage", "lost", "-y")
    assert r.code == 0, r.err
    assert "personal data of 1 leads erased" in r.err
    assert _erased(store) == {old}
    with store.connect() as conn:
        lead = conn.execute(select(LEADS).where(LEADS.c.id == old)).one()._mapping
        assert lead["email"] is None and lead["first_name"] is None and lead["stage"] == "lost"
        assert conn.execute(select(ACTIVITIES.c.note).where(ACTIVITIES.c.lead_id == old)).scalar() is None
        assert conn.execute(select(func.count()).select_from(ERASURES)).scalar() == 1
    # Erased leads are not counted again; the others are untouched.
    r = run_cli("--db", db_url, "--now", NOW, "leads", "forget", "--stage", "lost", "--dry-run")
    assert "would erase the personal data of 2 leads in stage lost" in r.err
    assert {old_active, old_new, recent}.isdisjoint(_erased(store))


def test_bad_retention_requests_are_refused(store, db_url, run_cli):
    lead = add_lead(store, email="a@x.com")
    r = run_cli("--db", db_url, "leads", "forget", "--inactive-since", "three years", "-y")
    assert r.code == 2 and "--inactive-since: bad age 'three years'" in r.err
    r = run_cli("--db", db_url, "leads", "forget", str(lead), "--stage", "lost", "-y")
    assert r.code == 2 and "not both" in r.err
    r = run_cli("--db", db_url, "leads", "forget", "-y")
    assert r.code == 2
    r = run_cli("--db", db_url, "leads", "forget", str(lead), "--dry-run")
    assert r.code == 0 and "would erase" in r.err
    assert _erased(store) == set()
