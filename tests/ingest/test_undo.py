"""`batches undo` keeps every change made after the batch; activity imports warn, refuse the future, undo."""
from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from leadctl.engine.routing import assign_lead
from leadctl.engine.stages import set_stage
from leadctl.errors import LeadctlError
from leadctl.ingest.activities import import_activities, log_activity
from leadctl.ingest.batches import list_batches, rollback_batch, undo_batch
from leadctl.ingest.importer import ImportOptions, import_leads
from leadctl.store import models
from leadctl.store.history import entered_stages

from conftest import REPO, write_csv

NOW = datetime(2026, 11, 20, 10, 0)
RULES = REPO / "leadctl" / "default_rules"
LEADS = models.Lead.__table__
ACTS = models.Activity.__table__
HISTORY = models.StageChange.__table__
TASKS = models.Followup.__table__
BC = models.BatchChange.__table__


def lead(store, email: str) -> dict | None:
    with store.connect() as conn:
        row = conn.execute(select(LEADS).where(LEADS.c.email == email)).first()
    return dict(row._mapping) if row else None


def count(store, table, *where) -> int:
    with store.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def snapshot(store) -> dict:
    """Everything undo may touch, to show that a dry run or a refusal wrote nothing."""
    out = {}
    with store.connect() as conn:
        for model in (models.Lead, models.Activity, models.StageChange, models.Followup, models.Batch,
                      models.BatchChange, models.Assignment):
            t = model.__table__
            out[t.name] = [tuple(r) for r in conn.execute(select(t).order_by(t.c.id))]
    return out


def imp(store, rules, path: str, when: datetime = NOW) -> int:
    return import_leads(store, [path], ImportOptions(rejects=path + ".rej.csv"), rules, now=when).batch


def scenario(store, rules, tmp_path):
    """The issue's replay: b1, b2 (creates carol, changes ada and bob), b3 (ada's company → OneFinal),
    then a call logged and a stage moved by hand on carol."""
    a = write_csv(tmp_path / "b1.csv", ["Email", "Company"],
                  [["ada@example.com", "Acme"], ["bob@example.com", "Bobco"]])
    b = write_csv(tmp_path / "b2.csv", ["Email", "Company", "Job Title"], [
        ["ada@example.com", "Globex", ""], ["carol@example.com", "Carol Inc", ""], ["bob@example.com", "", "CTO"]])
    c = write_csv(tmp_path / "b3.csv", ["Email", "Company"], [["ada@example.com", "OneFinal"]])
    batches = [imp(store, rules, p, NOW + timedelta(minutes=i)) for i, p in enumerate((a, b, c))]
    carol = lead(store, "carol@example.com")["id"]
    log_activity(store, carol, "call", at=NOW + timedelta(hours=1), note="talked")
    set_stage(store, str(carol), "sql", now=NOW + timedelta(hours=2), stages=rules)
    return batches, carol


# ---------------------------------------------------------------- the scenario
def test_undo_keeps_later_import_and_the_lead_someone_worked_on(store, rules, tmp_path):
    (_, b2, _), carol = scenario(store, rules, tmp_path)
    r = undo_batch(store, b2, now=NOW + timedelta(hours=3))

    assert lead(store, "ada@example.com")["company"] == "OneFinal"          # b3's change is kept ...
    assert [(c.field, c.value, c.reason) for c in r.conflicts] == [("company", "OneFinal", "changed by batch 3")]
    assert lead(store, "bob@example.com")["title"] is None                  # ... b2's own change goes
    assert [(c.field, c.current, c.restored) for c in r.restored] == [("title", "CTO", None)]
    assert r.leads_restored == 1

    kept = lead(store, "carol@example.com")                                  # the worked-on lead stays
    assert kept is not None and kept["stage"] == "sql"
    assert r.deleted == [] and [k.lead_id for k in r.kept] == [carol]
    assert r.kept[0].label == "carol@example.com"
    assert any("call" in why for why in r.kept[0].reasons)
    assert any("by hand" in why for why in r.kept[0].reasons)
    assert count(store, ACTS, ACTS.c.lead_id == carol) == 1
    assert count(store, HISTORY, HISTORY.c.lead_id == carol, HISTORY.c.cause == "manual") == 1
    assert [b["status"] for b in list_batches(store)] == ["complete", "undone", "complete"]


def test_undo_of_an_undone_batch_is_refused(store, rules, tmp_path):
    (_, b2, _), _ = scenario(store, rules, tmp_path)
    undo_batch(store, b2)
    before = snapshot(store)
    with pytest.raises(LeadctlError, match="already undone"):
        undo_batch(store, b2)
    with pytest.raises(LeadctlError, match="already undone"):
        undo_batch(store, b2, dry_run=True)
    assert snapshot(store) == before


def test_force_deletes_the_touched_lead_after_reporting_it(store, rules, tmp_path):
    (_, b2, _), carol = scenario(store, rules, tmp_path)
    r = undo_batch(store, b2, force=True)
    assert r.deleted == [carol] and [k.lead_id for k in r.forced] == [carol] and r.kept == []
    assert lead(store, "carol@example.com") is None
    for table in (ACTS, HISTORY, TASKS, BC):
        assert count(store, table, table.c.lead_id == carol) == 0
    # --force is about the leads it created: a value changed by a later batch is still kept.
    assert lead(store, "ada@example.com")["company"] == "OneFinal"


def test_an_untouched_created_lead_is_deleted_with_its_rows(store, rules, tmp_path):
    a = write_csv(tmp_path / "a.csv", ["Email", "Company"], [["ada@example.com", "Acme"]])
    b = write_csv(tmp_path / "b.csv", ["Email", "Company"], [["ada@example.com", "Globex"], ["dan@example.com", "D"]])
    imp(store, rules, a)
    b2 = imp(store, rules, b)
    dan = lead(store, "dan@example.com")["id"]
    r = undo_batch(store, b2)
    assert r.deleted == [dan] and r.kept == [] and r.conflicts == []
    assert lead(store, "dan@example.com") is None
    assert count(store, HISTORY, HISTORY.c.lead_id == dan) == 0
    assert lead(store, "ada@example.com")["company"] == "Acme"
    assert r.describe() == "deleted 1 lead; restored 1 field on 1 lead"


def test_dry_run_shows_exactly_what_undo_does_and_writes_nothing(store, rules, tmp_path):
    (_, b2, _), _ = scenario(store, rules, tmp_path)
    before = snapshot(store)
    plan = undo_batch(store, b2, dry_run=True)
    assert snapshot(store) == before
    assert plan.dry_run and plan.describe().startswith("would restore 1 field on 1 lead")
    done = undo_batch(store, b2)
    assert (plan.restored, plan.conflicts, plan.deleted, [k.lead_id for k in plan.kept]) == \
        (done.restored, done.conflicts, done.deleted, [k.lead_id for k in done.kept])


def test_a_reimport_that_changed_nothing_undoes_nothing(store, rules, tmp_path):
    a = write_csv(tmp_path / "a.csv", ["Email", "Company"], [["ada@example.com", "Acme"], ["bob@example.com", "B"]])
    b = write_csv(tmp_path / "b.csv", ["Email", "Phone"], [["ada@example.com", "+1 415 555 0100"]])
    import_leads(store, [a, b], ImportOptions(), rules, now=NOW)
    again = import_leads(store, [a, b], ImportOptions(), rules, now=NOW).batch
    before = snapshot(store)["leads"]
    r = undo_batch(store, again)
    assert (r.leads_restored, r.restored, r.deleted) == (0, [], [])
    assert r.describe() == "nothing changed"
    assert snapshot(store)["leads"] == before


def test_stage_put_back_with_its_history_unless_moved_since(store, rules, tmp_path):
    a = write_csv(tmp_path / "a.csv", ["Email"], [["ada@example.com"], ["bob@example.com"]])
    b = write_csv(tmp_path / "b.csv", ["Email", "Lifecycle Stage"], [["ada@example.com", "SQL"],
                                                                      ["bob@example.com", "SQL"]])
    imp(store, rules, a)
    b2 = imp(store, rules, b, NOW + timedelta(hours=1))
    bob = lead(store, "bob@example.com")["id"]
    set_stage(store, str(bob), "opportunity", now=NOW + timedelta(hours=2), stages=rules)
    r = undo_batch(store, b2)
    ada = lead(store, "ada@example.com")
    assert ada["stage"] == "new" and entered_stages(ada["stages_entered"]) == ["new"]
    assert count(store, HISTORY, HISTORY.c.lead_id == ada["id"], HISTORY.c.batch_id == b2) == 0
    # bob was moved on by hand: his stage and the history that leads there stay.
    assert lead(store, "bob@example.com")["stage"] == "opportunity"
    assert [(c.lead_id, c.field, c.reason) for c in r.conflicts] == [(bob, "stage", "moved by hand")]
    assert entered_stages(lead(store, "bob@example.com")["stages_entered"]) == ["new", "sql", "opportunity"]


def test_owner_assigned_by_hand_is_kept(store, rules, tmp_path):
    owner = rules.routing.owners[0].name
    a = write_csv(tmp_path / "a.csv", ["Email", "Company"], [["ada@example.com", "Acme"]])
    b = write_csv(tmp_path / "b.csv", ["Email", "Company", "Lead Owner"], [["ada@example.com", "Globex", "zed"],
                                                                           ["eve@example.com", "Eve", ""]])
    imp(store, rules, a)
    b2 = imp(store, rules, b)
    ada = lead(store, "ada@example.com")
    assert ada["owner"] == "zed"
    assign_lead(store, rules, "ada@example.com", owner, now=NOW)
    assign_lead(store, rules, "eve@example.com", owner, now=NOW)
    r = undo_batch(store, b2)
    ada = lead(store, "ada@example.com")
    assert (ada["owner"], ada["company"]) == (owner, "Acme")
    assert ("owner", "assigned by hand") in {(c.field, c.reason) for c in r.conflicts}
    assert [k.label for k in r.kept] == ["eve@example.com"]
    assert any("by hand" in why for why in r.kept[0].reasons)


def test_a_change_recorded_without_what_it_wrote_is_kept_unless_forced(store, rules, tmp_path):
    a = write_csv(tmp_path / "a.csv", ["Email", "Company"], [["ada@example.com", "Acme"]])
    b = write_csv(tmp_path / "b.csv", ["Email", "Company"], [["ada@example.com", "Globex"]])
    imp(store, rules, a)
    b2 = imp(store, rules, b)
    with store.begin() as conn:  # as a batch made before `after` was recorded
        conn.execute(BC.update().where(BC.c.batch_id == b2).values(after=None))
    plan = undo_batch(store, b2, dry_run=True)
    assert plan.restored == [] and [c.field for c in plan.conflicts] == ["company"]
    assert "--force" in plan.conflicts[0].reason
    undo_batch(store, b2, force=True)
    assert lead(store, "ada@example.com")["company"] == "Acme"


def test_rollback_takes_back_everything(store, rules, tmp_path):
    a = write_csv(tmp_path / "a.csv", ["Email", "Company"], [["ada@example.com", "Acme"]])
    b1 = imp(store, rules, a)
    ada = lead(store, "ada@example.com")["id"]
    log_activity(store, ada, "call", at=NOW)
    r = rollback_batch(store, b1)
    assert r.deleted == [ada] and count(store, LEADS) == 0 and count(store, ACTS) == 0


# ---------------------------------------------------------------- activity batches
def test_activity_batch_undo_removes_its_activities_and_reopens_its_tasks(store, rules, tmp_path):
    a = write_csv(tmp_path / "a.csv", ["Email"], [["ada@example.com"], ["bob@example.com"]])
    imp(store, rules, a)
    ada = lead(store, "ada@example.com")["id"]
    with store.begin() as conn:
        tid = conn.execute(TASKS.insert().values(lead_id=ada, owner=None, kind="cadence", cadence="x", step=1,
                                                 action="call", due_at=NOW, status="pending",
                                                 created_at=NOW)).inserted_primary_key[0]
    events = write_csv(tmp_path / "ev.csv", ["Email", "Type", "Time"], [
        ["ada@example.com", "call", "2026-11-20T11:00"], ["ada@example.com", "page_view", "2026-11-20T12:00"],
        ["bob@example.com", "page_view", "2026-11-20T09:00"]])
    res = import_activities(store, events, now=NOW + timedelta(hours=3), rules=rules)
    assert res.created == 3
    with store.connect() as conn:
        assert conn.execute(select(TASKS.c.status).where(TASKS.c.id == tid)).scalar() == "done"
    # Later work of a person: a page view of bob's logged by hand.
    bob = lead(store, "bob@example.com")["id"]
    log_activity(store, bob, "page_view", at=NOW - timedelta(hours=5))

    r = undo_batch(store, res.batch)
    assert (r.activities_deleted, r.tasks_reopened, r.conflicts) == (3, [tid], [])
    assert r.activities == {ada: 2, bob: 1}
    with store.connect() as conn:
        assert conn.execute(select(TASKS.c.status, TASKS.c.completed_at).where(TASKS.c.id == tid)).one() == \
            ("pending", None)
    assert count(store, ACTS, ACTS.c.batch_id == res.batch) == 0
    assert count(store, ACTS) == 1
    ada_row, bob_row = lead(store, "ada@example.com"), lead(store, "bob@example.com")
    assert (ada_row["last_activity_at"], ada_row["last_contacted_at"]) == (None, None)
    assert bob_row["last_activity_at"] == NOW - timedelta(hours=5)   # the activity that remains
    with pytest.raises(LeadctlError, match="already undone"):
        undo_batch(store, res.batch)


def test_activity_batch_undo_keeps_a_later_contact(store, rules, tmp_path):
    a = write_csv(tmp_path / "a.csv", ["Email"], [["ada@example.com"]])
    imp(store, rules, a)
    ada = lead(store, "ada@example.com")["id"]
    events = write_csv(tmp_path / "ev.csv", ["Email", "Type", "Time"], [["ada@example.com", "call",
                                                                         "2026-11-20T11:00"]])
    res = import_activities(store, events, now=NOW + timedelta(hours=3), rules=rules)
    log_activity(store, ada, "email_sent", at=NOW + timedelta(hours=2))
    undo_batch(store, res.batch)
    row = lead(store, "ada@example.com")
    assert row["last_activity_at"] == row["last_contacted_at"] == NOW + timedelta(hours=2)


def test_activity_import_warns_unknown_types_and_rejects_the_future(store, rules, tmp_path):
    imp(store, rules, write_csv(tmp_path / "a.csv", ["Email"], [["ada@example.com"]]))
    events = write_csv(tmp_path / "ev.csv", ["Email", "Type", "Time"], [
        ["ada@example.com", "page_view", "2026-11-20T09:00"],
        ["ada@example.com", "bogus_type", "2026-11-20T09:00"],
        ["ada@example.com", "call", "2099-01-01T00:00"],
        ["ada@example.com", "call", "2026-11-21T09:00"]])   # within a day of now: clocks differ
    res = import_activities(store, events, now=NOW, rules=rules, rejects=str(tmp_path / "rej.csv"))
    assert (res.created, res.rejected) == (3, 1)
    assert res.unknown_types == {"bogus_type": 1}
    assert {"page_view", "demo_request", "call"} <= set(res.known_types)
    with open(tmp_path / "rej.csv", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[1][0] == "3" and "in the future" in rows[1][2] and "2099-01-01" in rows[1][2]
    # Once stored, the type is known: a second file with it is not warned about.
    more = write_csv(tmp_path / "ev2.csv", ["Email", "Type", "Time"], [["ada@example.com", "bogus_type",
                                                                        "2026-11-20T08:00"]])
    assert import_activities(store, more, now=NOW, rules=rules).unknown_types == {}


# ---------------------------------------------------------------- the command line
@pytest.fixture
def cli(run_cli):
    """`cli(db_url, "batches", "undo", …)`: `leadctl --db … --rules … --now … batches undo …` through `main()`."""
    def run(db_url: str, *args: str, input: str | None = None):
        return run_cli("--db", db_url, "--rules", RULES, "--now", "2026-11-20T10:00", *args, input=input)

    return run


def test_cli_undo_asks_refuses_without_a_terminal_and_dry_runs(store, rules, db_url, cli, tmp_path, monkeypatch):
    (_, b2, _), carol = scenario(store, rules, tmp_path)
    before = snapshot(store)
    r = cli(db_url, "batches", "undo", str(b2))
    code, text = r.code, r.output
    assert code == 1 and "--yes" in text and "--dry-run" in text
    assert "carol@example.com" in text and "OneFinal" in text      # the counts and what is kept come first
    assert snapshot(store) == before

    dry = cli(db_url, "batches", "undo", str(b2), "--dry-run", "--format", "json")
    assert dry.exit_code == 0, dry.output
    doc = json.loads(dry.stdout)
    counts = doc["counts"]
    assert (counts["restored"], counts["deleted"], counts["kept"], counts["conflicts"]) == (1, 0, 1, 1)
    assert [(c["field"], c["current"], c["restored"]) for c in doc["restored"]] == [("title", "CTO", None)]
    assert [(c["field"], c["kept"], c["reason"]) for c in doc["conflicts"]] == \
        [("company", "OneFinal", "changed by batch 3")]
    assert doc["kept"][0]["lead"] == carol
    assert snapshot(store) == before

    import leadctl.cli.batches as cb

    monkeypatch.setattr(cb, "_interactive", lambda: True)
    no = cli(db_url, "batches", "undo", str(b2), input="n\n")
    assert no.exit_code == 1 and snapshot(store) == before
    yes = cli(db_url, "batches", "undo", str(b2), input="y\n")
    assert yes.exit_code == 0, yes.output
    assert "undone: restored 1 field on 1 lead; kept 1 lead it created and 1 value changed since" in yes.output
    r = cli(db_url, "batches", "undo", str(b2), "--yes")
    code, text = r.code, r.output
    assert code == 1 and "already undone" in text


def test_cli_undo_yes_and_force(store, rules, db_url, cli, tmp_path):
    (_, b2, _), _ = scenario(store, rules, tmp_path)
    r = cli(db_url, "batches", "undo", str(b2), "--yes", "--force")
    assert r.exit_code == 0, r.output
    assert "deleted 1 lead (1 changed since, --force)" in r.output and "carol@example.com" in r.output
    assert lead(store, "carol@example.com") is None


def test_cli_activity_log_at_words_and_errors(store, rules, db_url, cli, tmp_path):
    imp(store, rules, write_csv(tmp_path / "a.csv", ["Email"], [["ada@example.com"]]))
    ok = cli(db_url, "activity", "log", "ada@example.com", "call", "--at", "yesterday")
    assert ok.exit_code == 0, ok.output
    with store.connect() as conn:
        assert conn.execute(select(ACTS.c.at)).scalar() == NOW - timedelta(days=1)
    r = cli(db_url, "activity", "log", "ada@example.com", "call", "--at", "someday")
    code, text = r.code, r.output
    assert code == 2 and "--at" in text and "--now" not in text
    r = cli(db_url, "activity", "log", "ada@example.com", "call", "--at", "2099-01-01")
    code, text = r.code, r.output
    assert code == 2 and "--at" in text and "future" in text
    warned = cli(db_url, "activity", "log", "ada@example.com", "bogus_type")
    assert warned.exit_code == 0 and "bogus_type" in warned.output and "known types:" in warned.output
    assert "page_view" in warned.output


def test_cli_activity_import_warns_unknown_type(store, rules, db_url, cli, tmp_path):
    imp(store, rules, write_csv(tmp_path / "a.csv", ["Email"], [["ada@example.com"]]))
    events = write_csv(tmp_path / "ev.csv", ["Email", "Type", "At"], [["ada@example.com", "bogus_type", "2026-11-19"],
                                                                     ["ada@example.com", "bogus_type", "2026-11-18"]])
    r = cli(db_url, "activity", "import", events)
    assert r.exit_code == 0, r.output
    assert "warning: activity type 'bogus_type' (2 rows)" in r.output and "demo_request" in r.output


def test_an_activity_file_that_breaks_midway_leaves_nothing_and_a_failed_batch(store, rules, tmp_path, monkeypatch):
    from leadctl.errors import InputError
    from leadctl.ingest import activities as A

    monkeypatch.setattr(A, "CHUNK", 500)
    imp(store, rules, write_csv(tmp_path / "l.csv", ["Email"], [["ann@acme.com"]]))
    events = tmp_path / "e.csv"  # long enough that the bad byte lies beyond what the encoding sniffer reads
    lines = ["email,type,at"] + [f"ann@acme.com,call,2026-11-{10 + i // 1440} {i // 60 % 24:02d}:{i % 60:02d}"
                                 for i in range(4000)]
    events.write_bytes(("\n".join(lines) + "\n").encode() + b"ann@acme.com,call,\xff\xfe 10:00\n")
    with pytest.raises(InputError):
        A.import_activities(store, str(events), now=NOW, rules=rules)
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ACTS)).scalar_one() == 0
    assert list_batches(store)[0]["status"] == "failed"


def test_the_same_event_in_two_chunks_is_stored_once(store, rules, tmp_path, monkeypatch):
    from leadctl.ingest import activities as A

    monkeypatch.setattr(A, "CHUNK", 2)
    imp(store, rules, write_csv(tmp_path / "l.csv", ["Email"], [["ann@acme.com"]]))
    events = write_csv(tmp_path / "e.csv", ["email", "type", "at"], [
        ["ann@acme.com", "call", "2026-11-18 10:00"], ["ann@acme.com", "call", "2026-11-18 11:00"],
        ["ann@acme.com", "call", "2026-11-18 10:00"]])
    res = A.import_activities(store, events, now=NOW, rules=rules)
    assert (res.created, res.duplicates) == (2, 1)
