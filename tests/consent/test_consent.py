"""Consent per channel: statuses, skipped steps with their reason, the due list, `leads consent`, import, migration."""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text

from leadctl.engine.bizhours import Calendars
from leadctl.engine.consent import allowed_sql, blocked_reason, channel_of, parse_status
from leadctl.engine.due import due_tasks_sqlite
from leadctl.engine.followups import due_tasks
from leadctl.rules.compiler import compile_condition
from leadctl.rules.loader import load_rules
from leadctl.store.models import Followup, Lead

import conftest as factories

FOLLOWUPS_YAML = """
business_hours: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
cadences:
  - name: Touch
    when: {temperature: hot}
    steps:
      - {after: 15m, action: call}
      - {after: 1d, action: email}
      - {after: 1d, action: sms}
      - {after: 1d, action: meeting}
inactivity:
  - name: Gone quiet
    when: {stage: [mql], days_since_activity: {gte: 14}}
    action: email
"""
NOW = datetime(2026, 11, 20, 10, 0)   # a Friday
LATER = NOW + timedelta(days=30)


@pytest.fixture
def rules_dir(tmp_path):
    return factories.write_rules(tmp_path / "rules", followups=FOLLOWUPS_YAML)


@pytest.fixture
def rules(rules_dir):
    return load_rules(str(rules_dir))


def enter(store, rules, **values) -> int:
    """A hot lead with `values`, through the follow-up step; its id."""
    lid = factories.add_lead(store, at=NOW, temperature="hot", **values)
    with store.begin() as conn:
        lead = dict(conn.execute(select(Lead.__table__).where(Lead.__table__.c.id == lid)).one()._mapping)
        lead["activity"] = {}
        factories.run_followup_step(conn, rules, [lead], NOW)
    return lid


def tasks(store, lid) -> dict[str, tuple[str, str | None]]:
    t = Followup.__table__
    with store.connect() as conn:
        return {r.action: (r.status, r.note) for r in conn.execute(select(t).where(t.c.lead_id == lid))}


def due_actions(store, rules, lid) -> set[str]:
    with store.connect() as conn:
        return {d.action for d in due_tasks(conn, rules, LATER) if d.lead_id == lid}


def test_statuses_read_from_export_cells():
    assert parse_status("yes") == "opted_out" and parse_status("TRUE") == "opted_out"
    assert parse_status("no") is None and parse_status("") is None
    assert parse_status("cleaned") == "bounced" and parse_status("subscribed") == "granted"
    assert parse_status("yes", bounced_column=True) == "bounced"
    with pytest.raises(ValueError, match="not a consent status"):
        parse_status("maybe")
    assert (channel_of("Call"), channel_of("email"), channel_of("sms"), channel_of("demo")) == \
        ("phone", "email", "sms", None)


def test_an_opted_out_channel_is_skipped_with_its_reason_and_never_due(store, rules):
    lid = enter(store, rules, consent_email="opted_out", consent={"email": {"reason": "asked by phone"}})
    got = tasks(store, lid)
    assert got["email"] == ("skipped", "skipped: email opted_out: asked by phone")
    assert got["call"][0] == got["sms"][0] == got["meeting"][0] == "pending"
    assert due_actions(store, rules, lid) == {"call", "sms", "meeting"}


def test_a_bounced_address_is_not_emailed(store, rules):
    lid = enter(store, rules, consent_email="bounced", consent_phone="granted")
    assert tasks(store, lid)["email"] == ("skipped", "skipped: email bounced")
    assert "email" not in due_actions(store, rules, lid)


def test_the_old_flag_means_every_channel_opted_out(store, rules):
    lid = enter(store, rules, do_not_contact=True)
    got = tasks(store, lid)
    assert {a: s for a, (s, _) in got.items()} == {"call": "skipped", "email": "skipped", "sms": "skipped",
                                                  "meeting": "pending"}
    assert got["call"][1] == "skipped: phone opted_out: do_not_contact"
    assert due_actions(store, rules, lid) == {"meeting"}


def test_due_list_hides_tasks_whose_channel_was_withdrawn_later(store, rules):
    """A task planned while allowed and withdrawn by another writer (an import) is not listed."""
    lid = enter(store, rules)
    assert due_actions(store, rules, lid) == {"call", "email", "sms", "meeting"}
    with store.begin() as conn:
        conn.execute(Lead.__table__.update().where(Lead.__table__.c.id == lid).values(consent_sms="opted_out"))
    assert due_actions(store, rules, lid) == {"call", "email", "meeting"}


def test_start_up_path_hides_the_same_tasks(store, rules, db_url):
    if "://" in db_url:
        pytest.skip("the start-up path reads SQLite stores only")
    a = enter(store, rules, consent_phone="opted_out")
    b = enter(store, rules)
    with store.begin() as conn:
        conn.execute(Lead.__table__.update().where(Lead.__table__.c.id == b).values(do_not_contact=True))
    with store.connect() as conn:
        ordinary = [(d.lead_id, d.action) for d in due_tasks(conn, rules, LATER)]
    con = sqlite3.connect(db_url)
    try:
        lite = [(d.lead_id, d.action) for d in due_tasks_sqlite(con, Calendars(rules.followups.business_hours, {}),
                                                                 LATER)]
    finally:
        con.close()
    assert lite == ordinary
    assert sorted(ordinary) == [(a, "email"), (a, "meeting"), (a, "sms"), (b, "meeting")]


def test_inactivity_task_of_a_withdrawn_channel_is_skipped(store, rules):
    from leadctl.engine.followups import create_inactivity_tasks

    lid = factories.add_lead(store, at=NOW, stage="mql", last_activity_at=NOW - timedelta(days=20),
                             consent_email="opted_out")
    with store.begin() as conn:
        assert create_inactivity_tasks(conn, rules, NOW) == 1
    assert tasks(store, lid)["email"] == ("skipped", "skipped: email opted_out")
    assert due_actions(store, rules, lid) == set()


def test_allowed_sql_runs_on_the_store(store):
    """The condition is plain SQL both databases read (COALESCE, LOWER, IN, boolean literal)."""
    with store.connect() as conn:
        q = ("SELECT COUNT(*) FROM followups AS f LEFT JOIN leads AS l ON l.id = f.lead_id WHERE "
             + allowed_sql("f", "l"))
        assert conn.execute(text(q)).scalar() == 0


def test_conditions_test_consent():
    cond = compile_condition({"consent_email": "opted_out"})
    assert cond({"consent_email": "opted_out"}, NOW)
    assert not cond({"consent_email": None}, NOW)
    assert blocked_reason({"consent_phone": "granted"}, "call") is None


def test_leads_consent_command(store, rules_dir, db_url, run_cli):
    lid = factories.add_lead(store, at=NOW, temperature="hot", email="ann@example.com")
    base = ("--db", db_url, "--rules", str(rules_dir), "--now", NOW.isoformat())
    assert run_cli(*base, "process").code == 0
    r = run_cli(*base, "leads", "consent", "ann@example.com", "--email", "opted_out", "--reason", "asked by phone")
    assert r.code == 0, r.err
    assert "email opted_out" in r.err and "1 pending task(s) skipped" in r.err
    with store.connect() as conn:
        row = conn.execute(select(Lead.__table__).where(Lead.__table__.c.id == lid)).one()
    assert row.consent_email == "opted_out" and row.consent["email"]["reason"] == "asked by phone"
    assert tasks(store, lid)["email"][0] == "skipped"
    due = run_cli(*base, "--now", LATER.isoformat(), "followups", "due", "--format", "json")
    assert due.code == 0 and {t["action"] for t in json.loads(due.out)} == {"call", "sms", "meeting"}
    explained = run_cli(*base, "leads", "explain", str(lid), "--format", "json")
    assert "skipped: email opted_out: asked by phone" in explained.out
    # The task stays skipped when `process` runs again, and is not planned a second time.
    assert run_cli(*base, "process").code == 0
    assert tasks(store, lid)["email"][0] == "skipped"

    bad = run_cli(*base, "leads", "consent", str(lid), "--email", "maybe")
    assert bad.code == 2 and "unknown consent status 'maybe' for email" in bad.err
    none = run_cli(*base, "leads", "consent", str(lid))
    assert none.code == 2 and "--email opted_out" in none.err


def test_granting_a_channel_of_a_do_not_contact_lead_keeps_the_others_closed(store, db_url, rules_dir, run_cli):
    lid = factories.add_lead(store, at=NOW, do_not_contact=True)
    base = ("--db", db_url, "--rules", str(rules_dir), "--now", NOW.isoformat())
    r = run_cli(*base, "leads", "consent", str(lid), "--email", "granted", "--reason", "signed up again")
    assert r.code == 0, r.err
    assert "email granted, phone opted_out, sms opted_out" in r.err


def test_import_reads_consent_columns(tmp_path, db_url, rules_dir, run_cli, store):
    path = factories.write_csv(tmp_path / "crm.csv",
                               ["Email", "HasOptedOutOfEmail", "DoNotCall", "SMS Opt Out"],
                               [["a@example.com", "true", "false", ""],
                                ["b@example.com", "false", "yes", "unsubscribed"],
                                ["c@example.com", "", "", "maybe"]])
    r = run_cli("--db", db_url, "--rules", str(rules_dir), "--now", NOW.isoformat(), "import", path, "--no-process")
    assert r.code == 0, r.err
    t = Lead.__table__
    with store.connect() as conn:
        got = {row.email: (row.consent_email, row.consent_phone, row.consent_sms)
               for row in conn.execute(select(t.c.email, t.c.consent_email, t.c.consent_phone, t.c.consent_sms))}
    assert got == {"a@example.com": ("opted_out", None, None), "b@example.com": (None, "opted_out", "opted_out"),
                   "c@example.com": (None, None, None)}
    warned = (tmp_path / "crm.csv.rejects.csv").read_text(encoding="utf-8")
    assert "maybe" in warned and "not a consent status" in warned   # kept, reported, the row still imported


def test_a_bounce_column_says_bounced(tmp_path, db_url, rules_dir, run_cli, store):
    path = factories.write_csv(tmp_path / "hs.csv", ["Email", "Email Hard Bounced"],
                               [["a@example.com", "Yes"], ["b@example.com", "No"]])
    assert run_cli("--db", db_url, "--rules", str(rules_dir), "import", path, "--no-process").code == 0
    t = Lead.__table__
    with store.connect() as conn:
        got = dict(conn.execute(select(t.c.email, t.c.consent_email)).all())
    assert got == {"a@example.com": "bounced", "b@example.com": None}


def test_migration_step_opts_do_not_contact_leads_out_of_every_channel(store):
    from leadctl.store.migrations import STEPS

    step = next(s for s in STEPS if s.name == "lead_consent")
    a = factories.add_lead(store, do_not_contact=True)
    b = factories.add_lead(store)
    with store.begin() as conn:
        assert step.run is not None
        step.run(conn)
        t = Lead.__table__
        got = {r.id: (r.consent_email, r.consent_phone, r.consent_sms)
               for r in conn.execute(select(t.c.id, t.c.consent_email, t.c.consent_phone, t.c.consent_sms))}
    assert got == {a: ("opted_out",) * 3, b: (None,) * 3}


def test_reminders_leave_out_tasks_of_a_withdrawn_channel(store, rules):
    from leadctl.engine.remind import collect

    lid = enter(store, rules)
    with store.begin() as conn:
        conn.execute(Lead.__table__.update().where(Lead.__table__.c.id == lid).values(consent_phone="bounced"))
    with store.connect() as conn:
        digests = collect(conn, rules, LATER, Calendars(rules.followups.business_hours, {}))
    assert sorted(t.action for d in digests for t in d.tasks) == ["email", "meeting", "sms"]


def test_a_merge_keeps_the_stricter_consent(store, db_url, rules_dir, run_cli):
    keep = factories.add_lead(store, at=NOW, email="a@example.com", consent_email="granted")
    other = factories.add_lead(store, at=NOW, email="b@example.com", consent_email="opted_out", consent_sms="granted",
                               consent={"email": {"reason": "unsubscribed", "at": "2026-11-01T00:00:00"}})
    r = run_cli("--db", db_url, "--rules", str(rules_dir), "leads", "merge", str(keep), str(other), "--yes")
    assert r.code == 0, r.err
    with store.connect() as conn:
        row = conn.execute(select(Lead.__table__).where(Lead.__table__.c.id == keep)).one()
    assert (row.consent_email, row.consent_phone, row.consent_sms) == ("opted_out", None, "granted")
    assert row.consent["email"]["reason"] == "unsubscribed"
