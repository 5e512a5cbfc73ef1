"""`leadctl followups remind` against a real SMTP server and a real webhook: the right digests, once."""
from __future__ import annotations

import json
import textwrap
import threading
from datetime import datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from leadctl.engine.context import ProcessContext
from leadctl.engine.followups import FollowupStep
from leadctl.rules.loader import load_rules
from leadctl.store.models import Followup, Lead, SlaBreach

from conftest import free_port, write_rules

FOLLOWUPS_YAML = """
cadences:
  - name: Hot lead
    when: {temperature: hot}
    steps:
      - {after: 15m, action: call}
      - {after: 1d, action: email}
inactivity:
  - name: Gone quiet
    when: {stage: [mql, sql], days_since_activity: {gte: 14}}
    action: call
"""
ROUTING_YAML = """
owners:
  - {name: dana, email: dana@example.com, timezone: Europe/Berlin}
  - {name: lee, timezone: Europe/London}
"""
ENTRY = datetime(2026, 11, 20, 8, 0)       # Friday 09:00 Berlin
SWEEP = datetime(2026, 11, 20, 11, 0)      # Friday 12:00 Berlin: the first calls are due, not the e-mails
MONDAY = datetime(2026, 11, 23, 12, 0)     # the e-mails (+1d from Friday = Saturday → Monday 09:00) are due


# ---------------------------------------------------------------- servers
class Mailbox:
    def __init__(self, fail: bool = False):
        self.messages = []
        self.fail = fail

    async def handle_DATA(self, server, session, envelope):
        if self.fail:
            return "554 5.0.0 rejected for the test"
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    box = Mailbox()
    ctl = Controller(box, hostname="127.0.0.1", port=free_port())
    ctl.start()
    box.url = f"smtp://127.0.0.1:{ctl.port}"
    yield box
    ctl.stop()


class Hook(BaseHTTPRequestHandler):
    received: list = []
    auth: list = []
    status = 200

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, self.headers["Content-Type"], json.loads(body)))
        type(self).auth.append(self.headers.get("Authorization"))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    handler = type("H", (Hook,), {"received": [], "auth": [], "status": 200})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    handler.url = f"http://127.0.0.1:{srv.server_port}/hooks/secret-token-123"
    handler.port = srv.server_port
    yield handler
    srv.shutdown()
    srv.server_close()


# ---------------------------------------------------------------- the store
@pytest.fixture
def rules_dir(tmp_path):
    return write_rules(tmp_path / "rules", followups=FOLLOWUPS_YAML, routing=ROUTING_YAML)


def seed(store, rules_dir):
    """Ada and Grace (dana, hot), Alan (lee, hot), an unassigned hot lead, and a quiet mql lead of dana."""
    rules = load_rules(rules_dir)
    leads = [
        dict(first_name="Ada", last_name="Lovelace", email="ada@x.com", temperature="hot", owner="dana"),
        dict(first_name="Grace", last_name="Hopper", email="grace@x.com", temperature="hot", owner="dana"),
        dict(first_name="Alan", last_name="Turing", temperature="hot", owner="lee"),
        dict(company="Nobody Ltd", temperature="hot"),
        dict(first_name="Quiet", email="quiet@x.com", stage="mql", owner="dana",
             last_activity_at=ENTRY - timedelta(days=30)),
    ]
    t = Lead.__table__
    with store.begin() as conn:
        for lead in leads:
            row = {"created_at": ENTRY, "updated_at": ENTRY, "stage": "new", **lead}
            conn.execute(t.insert().values(**row))
        dicts = [dict(r._mapping) for r in conn.execute(select(t).order_by(t.c.id))]
        ctx = ProcessContext(conn=conn, rules=rules, now=ENTRY)
        step = FollowupStep()
        step.start(ctx)
        # The quiet lead is left for the sweep to find.
        step.chunk(ctx, [d for d in dicts if d["temperature"] == "hot"])
    return rules


@pytest.fixture
def cli(run_cli):
    """`leadctl …` through `main()`: (exit code, stdout, stderr)."""
    def run(*args):
        r = run_cli(*args)
        return r.code, r.out, r.err

    return run


def remind(cli, db_url, rules_dir, *extra, now=SWEEP):
    return cli("--db", db_url, "--rules", str(rules_dir), "--now", now.isoformat(), "followups", "remind",
               *extra)


@pytest.fixture
def leadctl(db_url, rules_dir, cli):
    """`leadctl --db … --rules … *args` on the test's store and rules: (exit code, stdout, stderr)."""
    return lambda *args: cli("--db", db_url, "--rules", str(rules_dir), *args)


@pytest.fixture
def sweep(store, db_url, rules_dir, cli):
    """The seeded store's cron sweep: `sweep(*options, now=SWEEP)` runs `followups remind`."""
    seed(store, rules_dir)
    return lambda *extra, now=SWEEP: remind(cli, db_url, rules_dir, *extra, now=now)


def reminded(store):
    t = Followup.__table__
    with store.connect() as conn:
        return {r.id: r.reminded_at for r in conn.execute(select(t.c.id, t.c.reminded_at))}


EMPTY = {"source": "leadctl", "digests": [], "reminded": 0, "failed": [], "dry_run": False}


# ---------------------------------------------------------------- tests
def test_quiet_when_nothing_is_due(sweep):
    code, out, _ = sweep(now=ENTRY)    # the quiet lead's inactivity task
    assert out.startswith("leadctl: 1 follow-up due for dana\n- [due now] call Quiet <quiet@x.com> (Gone quiet)")
    code, out, err = sweep("--format", "text", now=ENTRY + timedelta(minutes=5))
    assert (code, out, err) == (0, "", "")
    # JSON is always one document, so `| jq` works when nothing is due too
    code, out, err = sweep("--format", "json", now=ENTRY + timedelta(minutes=5))
    assert (code, err) == (0, "") and out.count("\n") == 1
    assert json.loads(out) == {**EMPTY, "at": (ENTRY + timedelta(minutes=5)).isoformat()}


def test_digest_on_stdout_once(sweep):
    code, out, err = sweep()
    assert code == 0 and err == ""
    assert out == (
        "leadctl: 3 follow-ups due for dana\n"
        "- [overdue 2h] call Ada Lovelace <ada@x.com> (Hot lead, step 1)"
        " — due 2026-11-20 09:15 Europe/Berlin (task 1)\n"
        "- [overdue 2h] call Grace Hopper <grace@x.com> (Hot lead, step 1)"
        " — due 2026-11-20 09:15 Europe/Berlin (task 3)\n"
        "- [due now] call Quiet <quiet@x.com> (Gone quiet) — due 2026-11-20 12:00 Europe/Berlin (task 9)\n"
        "\n"
        "leadctl: 1 follow-up due for lee\n"
        "- [overdue 1h] call Alan Turing (Hot lead, step 1) — due 2026-11-20 09:15 Europe/London (task 5)\n"
        "\n"
        "leadctl: 1 follow-up due for (unassigned)\n"
        "- [overdue 1h] call Nobody Ltd (Hot lead, step 1) — due 2026-11-20 09:15 UTC (task 7)\n"
    )
    # again, in the same second and later: nothing new
    assert sweep() == (0, "", "")
    assert sweep(now=SWEEP + timedelta(minutes=5)) == (0, "", "")
    # Monday: the e-mail steps come due, each reminded once
    code, out, _ = sweep("--format", "json", now=MONDAY)
    doc = json.loads(out)
    assert doc["reminded"] == 4 and doc["failed"] == []
    assert {(d["owner"], len(d["tasks"])) for d in doc["digests"]} == {("dana", 2), ("lee", 1), (None, 1)}
    assert all(t["action"] == "email" for d in doc["digests"] for t in d["tasks"])
    assert doc["dry_run"] is False
    code, out, err = sweep("--format", "json", now=MONDAY)
    assert (code, err) == (0, "") and json.loads(out) == {**EMPTY, "at": MONDAY.isoformat()}


def test_real_smtp_server_gets_one_digest_per_owner_once(smtp_server, sweep):
    url = smtp_server.url + "?from=crm@example.com&to=sales@example.com"
    code, out, err = sweep("--smtp", url)
    assert code == 0, err
    assert (out, err) == ("", "")        # sent by e-mail: cron has nothing to mail a second time
    got = {tuple(rcpt): msg for rcpt, msg in smtp_server.messages}
    assert set(got) == {("dana@example.com",), ("sales@example.com",)}
    # lee has no e-mail address: his digest also goes to the fallback (`to=`)
    assert len(smtp_server.messages) == 3
    dana = got[("dana@example.com",)]
    assert dana["Subject"] == "leadctl: 3 follow-ups due for dana"
    assert dana["From"] == "crm@example.com"
    body = dana.get_payload(decode=True).decode()
    assert "call Ada Lovelace <ada@x.com> (Hot lead, step 1)" in body and "Grace Hopper" in body
    assert "Alan Turing" not in body
    subjects = sorted(m["Subject"] for _, m in smtp_server.messages)
    assert subjects == ["leadctl: 1 follow-up due for (unassigned)", "leadctl: 1 follow-up due for lee",
                        "leadctl: 3 follow-ups due for dana"]
    assert sweep("--smtp", url) == (0, "", "")
    assert len(smtp_server.messages) == 3


def test_smtp_url_from_environment_and_owner_without_address(smtp_server, monkeypatch, sweep):
    monkeypatch.setenv("LEADCTL_SMTP_URL", smtp_server.url)
    code, out, err = sweep()
    assert code == 0
    assert [tuple(r) for r, _ in smtp_server.messages] == [("dana@example.com",)]
    assert "warning: no e-mail address for lee" in err and "(unassigned)" in err
    assert "for lee" in out and "for (unassigned)" in out


def test_failing_smtp_server_exits_1_and_tasks_stay_due(store, smtp_server, sweep):
    smtp_server.fail = True
    url = smtp_server.url.replace("smtp://", "smtp://bot:hunter2secret@") + "?to=sales@example.com"
    code, out, err = sweep("--smtp", url)
    assert code == 1
    # stdout carries the failures only (no digest text: the tasks are retried by e-mail)
    assert out.splitlines()[0].startswith(
        "not sent to dana: cannot send e-mail to dana@example.com via smtp://***@127.0.0.1")
    assert len(out.splitlines()) == 3 and "Ada Lovelace" not in out
    assert err == (f"error: 3 digests not sent; first: {out.splitlines()[0].split(': ', 1)[1]}\n"
                   "hint: their tasks stay un-reminded; the next run retries\n")
    assert "hunter2secret" not in out + err and "bot" not in out + err
    assert all(v is None for v in reminded(store).values())
    # the server is fixed: the next run sends, and says nothing
    smtp_server.fail = False
    code, out, err = sweep("--smtp", smtp_server.url + "?to=sales@example.com")
    assert (code, out, err) == (0, "", "") and len(smtp_server.messages) == 3
    assert "3 follow-ups due for dana" in smtp_server.messages[0][1]["Subject"]


def test_unreachable_smtp_server(store, monkeypatch, sweep):
    monkeypatch.setenv("LEADCTL_SMTP_PASSWORD", "s3cr3t-pw")
    code, out, err = sweep("--smtp", f"smtp://bot@127.0.0.1:{free_port()}?timeout=3&to=x@y.z")
    assert code == 1 and "s3cr3t-pw" not in out + err
    assert "not sent to dana: cannot send e-mail to dana@example.com via smtp://***@127.0.0.1" in out
    assert err.startswith("error: 3 digests not sent")
    assert all(v is None for v in reminded(store).values())


def test_webhook_gets_one_json_document_once(webhook, sweep):
    code, out, err = sweep("--webhook", webhook.url)
    assert (code, out, err) == (0, "", "")
    assert len(webhook.received) == 1 and webhook.auth == [None]
    path, ctype, doc = webhook.received[0]
    assert path == "/hooks/secret-token-123" and ctype.startswith("application/json")
    assert doc["at"] == "2026-11-20T11:00:00"
    assert [d["owner"] for d in doc["digests"]] == ["dana", "lee", None]
    assert [t["lead"] for t in doc["digests"][0]["tasks"]] == [
        "Ada Lovelace <ada@x.com>", "Grace Hopper <grace@x.com>", "Quiet <quiet@x.com>"]
    assert doc["digests"][0]["email"] == "dana@example.com"
    assert sweep("--webhook", webhook.url) == (0, "", "")
    assert len(webhook.received) == 1


def test_failing_webhook_masks_the_url(store, webhook, sweep):
    webhook.status = 500
    code, out, err = sweep("--webhook", webhook.url)
    assert code == 1 and err.startswith("error: 3 digests not sent")
    assert out.splitlines() == [f"not sent to {o}: webhook http://127.0.0.1:{webhook.port}/… answered HTTP 500"
                                for o in ("dana", "lee", "(unassigned)")]
    assert "secret-token-123" not in out + err
    assert all(v is None for v in reminded(store).values())


def test_sla_notify_breaches_are_sent_once(store, sweep):
    with store.begin() as conn:
        conn.execute(SlaBreach.__table__.insert(), [
            dict(lead_id=1, rule="Hot leads within the hour", owner="dana", assigned_at=ENTRY,
                 due_at=ENTRY + timedelta(hours=1), breached_at=MONDAY, action="notify"),
            dict(lead_id=2, rule="Hot leads within the hour", owner="dana", assigned_at=ENTRY,
                 due_at=ENTRY + timedelta(hours=1), breached_at=MONDAY, action="reassign"),
        ])
    code, out, _ = sweep(now=ENTRY + timedelta(hours=2))
    assert code == 0
    assert out.startswith("leadctl: 3 follow-ups due and 1 SLA breach for dana\n")
    assert ("- [SLA missed 1h] Ada Lovelace <ada@x.com>: Hot leads within the hour — was due "
            "2026-11-20 10:00 Europe/Berlin (lead 1)\n") in out
    assert out.count("SLA missed") == 1
    assert sweep(now=ENTRY + timedelta(hours=2)) == (0, "", "")


def test_snoozed_task_is_reminded_again(sweep, leadctl):
    sweep()
    code, out, err = leadctl("--now", SWEEP.isoformat(), "followups", "snooze", "1", "2h")
    assert code == 0 and "due 2026-11-20 14:00 Europe/Berlin" in err
    code, out, err = leadctl("--now", SWEEP.isoformat(), "followups", "done", "3", "--note", "spoke to her")
    assert code == 0
    assert sweep(now=SWEEP + timedelta(hours=1)) == (0, "", "")
    code, out, _ = sweep(now=SWEEP + timedelta(hours=2))
    assert out.startswith("leadctl: 1 follow-up due for dana\n- [due now] call Ada Lovelace")
    assert leadctl("followups", "done", "3")[0] == 2
    assert leadctl("followups", "done", "99")[0] == 1
    assert leadctl("followups", "snooze", "1", "30")[0] == 2


def test_due_command_formats(store, sweep, leadctl):
    base = ("--now", SWEEP.isoformat(), "followups", "due")
    code, out, _ = leadctl(*base, "--format", "json")
    rows = json.loads(out)
    assert code == 0 and [r["id"] for r in rows] == [1, 3, 5, 7]     # the sweep has not created the quiet task
    assert rows[0] == {"id": 1, "due_at": "2026-11-20T08:15:00", "due_local": "2026-11-20 09:15 Europe/Berlin",
                       "overdue": True, "overdue_by": "2h", "owner": "dana", "action": "call", "lead_id": 1,
                       "lead": "Ada Lovelace <ada@x.com>", "cadence": "Hot lead", "step": 1, "kind": "cadence",
                       "note": None}
    code, out, _ = leadctl(*base, "--owner", "lee", "--format", "csv")
    assert out.splitlines()[0].startswith("id,due_at,due_local,overdue,overdue_by,owner") and len(out.splitlines()) == 2
    code, out, err = leadctl(*base, "--until", "2026-11-24", "--limit", "2", "--format", "json")
    assert len(json.loads(out)) == 2 and "--limit 0" in err
    code, out, _ = leadctl(*base, "--until", "2026-11-30", "--overdue", "--format", "json")
    assert len(json.loads(out)) == 4
    code, out, _ = leadctl(*base)
    assert code == 0 and "Ada Lovelace" in out
    assert leadctl(*base, "--format", "xml")[0] == 2


# ---------------------------------------------------------------- a sweep that cannot be spent by accident
def count_tasks(store):
    t = Followup.__table__
    with store.connect() as conn:
        return conn.execute(select(func.count()).select_from(t)).scalar()


def test_dry_run_shows_what_would_be_sent_and_marks_nothing(store, smtp_server, sweep):
    url = smtp_server.url + "?to=sales@example.com"
    before = count_tasks(store)
    code, out, err = sweep("--smtp", url, "--dry-run")
    assert code == 0
    assert out.startswith("leadctl: 3 follow-ups due for dana\n- [overdue 2h] call Ada Lovelace")
    assert "Quiet <quiet@x.com> (Gone quiet)" in out          # the inactivity task the run would create
    assert err.splitlines() == [
        "would remind dana (3 tasks): e-mail to dana@example.com",
        "would remind lee (1 task): e-mail to sales@example.com",
        "would remind (unassigned) (1 task): e-mail to sales@example.com",
        "dry run: nothing sent, nothing marked",
    ]
    assert smtp_server.messages == []
    assert all(v is None for v in reminded(store).values()) and count_tasks(store) == before
    code, out, _ = sweep("--dry-run", "--format", "json")
    doc = json.loads(out)
    assert doc["dry_run"] is True and doc["reminded"] == 5 and doc["failed"] == []
    # the real run after looking: everything still goes out, once
    assert sweep("--smtp", url) == (0, "", "")
    assert len(smtp_server.messages) == 3
    code, out, err = sweep("--dry-run")
    assert (code, out, err) == (0, "", "dry run: nothing to remind\n")


def test_dry_run_leaves_sla_breaches_and_owners_alone(store, db_url, tmp_path, cli):
    rules = tmp_path / "sla-rules"
    rules.mkdir()
    (rules / "routing.yaml").write_text(textwrap.dedent("""
        owners:
          - {name: ann, team: t}
          - {name: bob, team: t}
        rules:
          - {name: All, assign: {team: t}}
        sla:
          - {name: Fast, within: 1h, then: [reassign, notify]}
    """))
    with store.begin() as conn:
        conn.execute(Lead.__table__.insert().values(first_name="Ada", owner="ann", team="t", assigned_at=ENTRY,
                                                    stage="new", created_at=ENTRY, updated_at=ENTRY))
    code, out, err = remind(cli, db_url, rules, "--dry-run", now=ENTRY + timedelta(hours=3))
    assert code == 0 and out.startswith("leadctl: 1 SLA breach for bob\n- [SLA missed 1h] Ada: Fast")
    assert "would remind bob (1 SLA breach): printed" in err
    with store.connect() as conn:
        assert conn.execute(select(Lead.__table__.c.owner)).scalar() == "ann"
        assert conn.execute(select(func.count()).select_from(SlaBreach.__table__)).scalar() == 0
    code, out, err = remind(cli, db_url, rules, now=ENTRY + timedelta(hours=3))
    assert "1 SLA breach for bob" in out
    with store.connect() as conn:
        assert conn.execute(select(Lead.__table__.c.owner)).scalar() == "bob"


def test_printing_in_a_terminal_says_it_counts_as_delivery(store, monkeypatch, sweep):
    import leadctl.cli.fast as fast
    import leadctl.cli.followups as cli_followups

    monkeypatch.setattr(cli_followups, "_stdout_is_terminal", lambda: True)
    monkeypatch.setattr(fast, "_in_terminal", lambda: True)   # the start-up path looks too
    code, out, err = sweep()
    assert code == 0 and "3 follow-ups due for dana" in out
    assert err == ("note: printing counts as delivery: 5 tasks now marked reminded and not sent again; "
                   "use --dry-run to look first, --smtp or --webhook to send\n")
    assert sum(v is not None for v in reminded(store).values()) == 5
    assert sweep() == (0, "", "nothing to remind\n")


def test_no_note_in_a_terminal_with_a_transport(monkeypatch, webhook, sweep):
    import leadctl.cli.followups as cli_followups

    monkeypatch.setattr(cli_followups, "_stdout_is_terminal", lambda: True)
    assert sweep("--webhook", webhook.url) == (0, "", "")
    assert len(webhook.received) == 1


def test_json_with_a_transport_is_the_document_only(smtp_server, sweep):
    code, out, err = sweep("--smtp", smtp_server.url + "?to=s@example.com",
                            "--format", "json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["reminded"] == 5 and [d["owner"] for d in doc["digests"]] == ["dana", "lee", None]
    assert len(smtp_server.messages) == 3


def test_owner_without_address_is_printed_with_smtp_and_not_with_a_webhook_too(smtp_server, webhook, sweep):
    code, out, err = sweep("--smtp", smtp_server.url, "--webhook", webhook.url)
    # the webhook carried every digest: nothing is left to print, and no warning
    assert (code, out, err) == (0, "", "")
    assert len(webhook.received) == 1 and [tuple(r) for r, _ in smtp_server.messages] == [("dana@example.com",)]


# ---------------------------------------------------------------- webhook credentials
def test_webhook_credentials_are_sent_as_basic_auth(webhook, sweep):
    import base64

    url = webhook.url.replace("http://", "http://leadbot:p%40ss-w0rd-777@")
    code, out, err = sweep("--webhook", url)
    assert (code, out, err) == (0, "", "")
    assert webhook.received[0][0] == "/hooks/secret-token-123"
    assert webhook.auth == ["Basic " + base64.b64encode(b"leadbot:p@ss-w0rd-777").decode()]


def test_rejected_webhook_credentials_are_never_printed(store, webhook, sweep):
    webhook.status = 401
    url = webhook.url.replace("http://", "http://leadbot:p4ss-w0rd-777@")
    code, out, err = sweep("--webhook", url)
    assert code == 1
    assert (f"not sent to dana: webhook http://***@127.0.0.1:{webhook.port}/… answered HTTP 401 "
            "(check the user and password in the URL)") in out
    assert "p4ss-w0rd-777" not in out + err and "leadbot" not in out + err and "secret-token" not in out + err
    assert all(v is None for v in reminded(store).values())


def test_unreachable_webhook_with_credentials_names_the_host_not_dns(sweep):
    code, out, err = sweep("--webhook",
                            f"http://leadbot:p4ss-w0rd-777@127.0.0.1:{free_port()}/hook")
    assert code == 1
    assert "cannot reach webhook http://***@127.0.0.1:" in out and "Connection refused" in out
    assert "p4ss-w0rd-777" not in out + err and "leadbot" not in out + err


@pytest.mark.parametrize("args", [
    ("--format", "json"), ("--format", "csv"), (), ("--limit", "2"), ("--limit=0", "--format=json"),
    ("--until", "2026-11-24", "--limit", "2", "--format", "json"), ("--until", "2026-11-30", "--overdue"),
    ("--overdue", "--format", "csv"), ("--until", "not a date"), ("--format", "xml"), ("--limit", "-1"),
])
def test_due_on_the_start_up_path_prints_what_the_ordinary_path_prints(store, db_url, rules_dir, cli, tmp_path,
                                                                        monkeypatch, args):
    """`followups due` runs without Typer and SQLAlchemy once the rules are cached; same output, same errors."""
    from leadctl.cli import fast

    if "://" in db_url:
        pytest.skip("the start-up path reads SQLite stores only")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    seed(store, rules_dir)
    path = db_url
    base = ("--db", path, "--rules", str(rules_dir), "--now", SWEEP.isoformat(), "followups", "due")
    taken = []
    real = fast.run
    monkeypatch.setattr(fast, "run", lambda argv: taken.append(real(argv)) or taken[-1])
    monkeypatch.setenv("LEADCTL_RULES_CACHE", "0")
    ordinary = cli(*base, *args)
    monkeypatch.delenv("LEADCTL_RULES_CACHE")
    cli("--db", path, "--rules", str(rules_dir), "rules", "check")   # fills the cache
    assert cli(*base, *args) == ordinary
    valid = ordinary[0] == 0
    assert taken == [False, valid]   # a usage error is left to Typer
