"""Two sweeps at once, as separate processes on one store: every due task reminded exactly once.

Runs on the SQLite file of the test, or on PostgreSQL when LEADCTL_TEST_DATABASE_URL is set.
"""
from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from leadctl.store.models import Followup, Lead

from conftest import free_port

FOLLOWUPS_YAML = """
cadences:
  - name: Hot lead
    when: {temperature: hot}
    steps:
      - {after: 15m, action: call}
"""
ROUTING_YAML = """
owners:
  - {name: dana, email: dana@example.com, timezone: Europe/Berlin}
  - {name: lee, email: lee@example.com, timezone: Europe/London}
  - {name: priya, email: priya@example.com, timezone: America/New_York}
"""
NOW = datetime(2026, 11, 20, 11, 0)
OWNERS = ("dana", "lee", "priya")

pytestmark = pytest.mark.slow  # real processes racing for one store


class SlowMailbox:
    """An SMTP server that takes `delay` seconds per message, so that sweeps overlap; with
    `hold` set, a message waits until `release` is set (a sweep can be killed mid-send)."""

    def __init__(self, delay: float):
        self.delay = delay
        self.messages = []
        self.started = threading.Event()
        self.hold = False
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.started.set()
        if self.hold:
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
        else:
            await asyncio.sleep(self.delay)
        self.messages.append((tuple(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@pytest.fixture
def mailbox():
    from aiosmtpd.controller import Controller

    box = SlowMailbox(0.3)
    ctl = Controller(box, hostname="127.0.0.1", port=free_port())
    ctl.start()
    box.url = f"smtp://127.0.0.1:{ctl.port}"
    yield box
    box.release.set()
    ctl.stop()


@pytest.fixture
def sweeps(store, db_url, tmp_path):
    """60 due tasks of three owners; `sweeps.start(*options)` starts a sweep in its own process (a
    Popen), `sweeps.run(*options)` runs one to the end (a CompletedProcess), `sweeps.n` the task count."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "followups.yaml").write_text(textwrap.dedent(FOLLOWUPS_YAML))
    (rules / "routing.yaml").write_text(textwrap.dedent(ROUTING_YAML))
    t, f = Lead.__table__, Followup.__table__
    n = 60
    with store.begin() as conn:
        conn.execute(t.insert(), [dict(first_name=f"Lead{i}", email=f"l{i}@x.com", owner=OWNERS[i % 3],
                                       temperature="hot", stage="new", created_at=NOW, updated_at=NOW)
                                  for i in range(n)])
        ids = [r[0] for r in conn.execute(select(t.c.id).order_by(t.c.id))]
        conn.execute(f.insert(), [dict(lead_id=lid, owner=OWNERS[i % 3], kind="cadence", cadence="Hot lead", step=1,
                                       action="call", due_at=NOW - timedelta(minutes=i), status="pending",
                                       created_at=NOW - timedelta(hours=2)) for i, lid in enumerate(ids)])

    def start(*extra):
        return subprocess.Popen(sweep_cmd(db_url, rules, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env())

    def run(*extra):
        return subprocess.run(sweep_cmd(db_url, rules, *extra), capture_output=True, text=True, env=env(),
                              timeout=120)

    return SimpleNamespace(n=n, start=start, run=run)


def sweep_cmd(db_url, rules, *extra):
    return [sys.executable, "-m", "leadctl", "--db", db_url, "--rules", str(rules), "--now", NOW.isoformat(),
            "followups", "remind", *extra]


def env():
    e = dict(os.environ)
    e.pop("LEADCTL_SMTP_URL", None)
    e.pop("LEADCTL_WEBHOOK_URL", None)
    return e


def task_ids(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"\(task (\d+)\)", text)]


def unreminded(store) -> int:
    f = Followup.__table__
    with store.connect() as conn:
        return conn.execute(select(func.count()).select_from(f).where(f.c.reminded_at.is_(None))).scalar()


def test_two_concurrent_sweeps_remind_each_task_once(store, sweeps, mailbox):
    n = sweeps.n
    procs = [sweeps.start("--smtp", mailbox.url) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    # sent by e-mail: neither sweep prints a digest (cron would mail it a second time)
    assert outs == [("", ""), ("", "")]
    # exactly one e-mail per owner, whichever sweep sent it
    assert sorted(r for r, _ in mailbox.messages) == [("dana@example.com",), ("lee@example.com",),
                                                      ("priya@example.com",)]
    mailed = Counter(int(x) for _, body in mailbox.messages for x in re.findall(r"\(task (\d+)\)", body))
    assert len(mailed) == n and set(mailed.values()) == {1}
    assert unreminded(store) == 0


def test_many_concurrent_sweeps_without_smtp(store, sweeps):
    n = sweeps.n
    procs = [sweeps.start("--format", "text") for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    seen = Counter(tid for out, _ in outs for tid in task_ids(out))
    assert len(seen) == n and set(seen.values()) == {1}


def test_killed_sweep_leaves_tasks_unreminded(store, sweeps, mailbox):
    n = sweeps.n
    mailbox.hold = True
    p = sweeps.start("--smtp", mailbox.url)
    assert mailbox.started.wait(30), p.communicate(timeout=5)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=30)
    assert unreminded(store) == n
    # The killed run's message stays held (the server would still finish it) until the retry is done.
    mailbox.hold, mailbox.delay = False, 0
    # Tell the runs apart by sender.
    done = sweeps.run("--smtp", mailbox.url + "?from=retry@example.com")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    mailbox.release.set()
    mailed = [int(x) for _, body in mailbox.messages if "From: retry@example.com" in body
              for x in re.findall(r"\(task (\d+)\)", body)]
    assert sorted(mailed) == sorted(set(mailed)) and len(mailed) == n
    assert unreminded(store) == 0


def test_failing_smtp_in_a_subprocess_exits_1_and_retries(store, sweeps):
    n = sweeps.n
    bad = sweeps.run("--smtp", f"smtp://u:pw-XYZ-123@127.0.0.1:{free_port()}")
    assert bad.returncode == 1 and bad.stderr.startswith("error: 3 digests not sent")
    assert "pw-XYZ-123" not in bad.stdout + bad.stderr and "not sent to dana: cannot send e-mail" in bad.stdout
    assert unreminded(store) == n
    ok = sweeps.run()
    assert ok.returncode == 0 and len(task_ids(ok.stdout)) == n
    again = sweeps.run()
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
