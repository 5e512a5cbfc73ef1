"""Concurrency and crashes, with real processes: overlapping imports and sweeps, SIGKILL and
Ctrl-C in the middle of an import."""
from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import DEFAULT_RULES, query
from tests.conftest import SHARED_DATA, sqlite_only

LEADCTL = [sys.executable, "-m", "leadctl"]
# Big enough that an import goes on for seconds after its first commit (chunks of 5,000 rows),
# so a signal sent once the first chunk is in lands mid-import; small enough to import thrice.
KILL_ROWS = 40_000      # generated leads (duplicates, bad values): slower rows
INTERRUPT_ROWS = 100_000  # plain rows, which import several times faster

pytestmark = pytest.mark.slow


def _env(db: str, rules: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "LEADCTL_DB": db, "LEADCTL_RULES": str(rules), **extra}
    env.pop("LEADCTL_DEBUG", None)
    return env


def _write_leads(path: Path, prefix: str, n: int) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("Email,First Name,Title,Employees,Lead Source\n")
        for i in range(n):
            fh.write(f"{prefix}{i}@example.com,P{i},CEO,{500 + i % 3000},Webinar\n")


def _lead_count(db: str) -> int:
    return query(db, "SELECT count(*) FROM leads")[0][0]


def test_two_imports_and_two_sweeps_at_once_all_finish_with_exact_counts(tmp_path, db_url):
    rules = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES, rules)
    env = _env(db_url, rules, LEADCTL_NOW="2099-01-05T09:00:00")
    later = _env(db_url, rules, LEADCTL_NOW="2099-02-05T09:00:00")  # the sweeps: everything is due
    base = tmp_path / "base.csv"
    _write_leads(base, "base", 200)
    subprocess.run([*LEADCTL, "import", str(base)], env=env, check=True, capture_output=True, timeout=300)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    _write_leads(a, "a", 3000)
    _write_leads(b, "b", 3000)

    cmds = [[*LEADCTL, "import", str(a), "--output-format", "json"],
            [*LEADCTL, "import", str(b), "--output-format", "json"],
            [*LEADCTL, "followups", "remind", "--format", "json"],
            [*LEADCTL, "followups", "remind", "--format", "json"]]
    procs = [subprocess.Popen(c, env=env if "import" in c else later, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for c in cmds]
    # Read every pipe at once: a sweep whose digest outgrows the pipe buffer must not stall the others.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(procs)) as pool:
        outputs = list(pool.map(lambda p: p.communicate(timeout=600), procs))
    results = [(p.returncode, *out) for p, out in zip(procs, outputs)]
    for (code, _out, err), cmd in zip(results, cmds):
        assert code == 0, (cmd[-3:], err)
        assert "locked" not in err and "Traceback" not in err
    for _code, out, _err in results[:2]:
        s = json.loads(out)
        assert s["created"] == 3000 and s["read"] == 3000
    assert _lead_count(db_url) == 6200

    # No reminder twice: every task reminded by one sweep only, and a third sweep is quiet
    # about the tasks already reminded.
    reminded: list = []
    for _code, out, _err in results[2:]:
        reminded += _task_ids(out)
    assert reminded, "the sweeps had nothing to remind: the test proves nothing"
    assert len(reminded) == len(set(reminded)), "a task was reminded by both sweeps"
    again = subprocess.run([*LEADCTL, "followups", "remind", "--format", "json"], env=later, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert not set(_task_ids(again.stdout)) & set(reminded)


def _task_ids(out: str) -> list:
    """Task ids in `followups remind --format json` output, whatever its exact nesting."""
    if not out.strip():
        return []
    ids: list = []

    def walk(x, key=None):
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, k)
        elif isinstance(x, list):
            for v in x:
                walk(v, key)
        elif key in ("task", "task_id", "followup_id", "id", "breach") and isinstance(x, int):
            ids.append(("breach" if key == "breach" else "task", x))

    for line in out.splitlines():
        if line.strip():
            walk(json.loads(line) if line.lstrip()[:1] in "[{" else None)
    return ids


def _integrity(db: str) -> str:
    con = sqlite3.connect(db)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def _wait_for_leads(db: str, proc: subprocess.Popen, at_least: int = 1, timeout: float = 120) -> int:
    """Poll the SQLite file (cheaply: sqlite3, no engine) until the import has committed
    `at_least` leads; fail if the import ends first, so a signal is only ever sent mid-import."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the import finished before it could be interrupted"
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2)
            try:
                n = con.execute("SELECT count(*) FROM leads").fetchone()[0]
            finally:
                con.close()
        except sqlite3.Error:  # not created yet, or busy
            n = 0
        if n >= at_least:
            assert proc.poll() is None, "the import finished before it could be interrupted"
            return n
        time.sleep(0.02)
    raise AssertionError("no leads committed in time")


@pytest.fixture(scope="module")
def generated_leads(tmp_path_factory) -> Path:
    """KILL_ROWS realistic leads (duplicates, merges, bad values) from the shared generator."""
    gen = SHARED_DATA / "gen_leads.py"
    if not gen.exists():
        pytest.skip("../shared/data/gen_leads.py is not present")
    path = tmp_path_factory.mktemp("big") / "leads.csv"
    with open(path, "wb") as fh:
        subprocess.run([sys.executable, str(gen), str(KILL_ROWS)], stdout=fh, check=True, timeout=300)
    return path


@sqlite_only
def test_sigkill_mid_import_leaves_a_sound_store_and_reimport_completes(tmp_path, generated_leads):
    rules = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES, rules)
    db = str(tmp_path / "killed.db")
    env = _env(db, rules)
    cmd = [*LEADCTL, "import", str(generated_leads), "--no-process", "--output-format", "json"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for_leads(db, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    assert _integrity(db) == "ok"
    assert 0 < _lead_count(db) < KILL_ROWS

    listed = subprocess.run([*LEADCTL, "batches", "--format", "json"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert listed.returncode == 0, listed.stderr
    (batch,) = json.loads(listed.stdout)
    assert batch["status"] == "incomplete (killed)"

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr
    s = json.loads(again.stdout)
    assert s["read"] == s["created"] + s["updated"] + s["merged"] + s["unchanged"] + s["rejected"]

    clean_db = str(tmp_path / "clean.db")
    clean = subprocess.run(cmd, env=_env(clean_db, rules), capture_output=True, text=True, timeout=900)
    assert clean.returncode == 0, clean.stderr
    assert _lead_count(db) == _lead_count(clean_db)
    key = "SELECT count(DISTINCT lower(email)), count(DISTINCT phone) FROM leads"
    assert query(db, key) == query(clean_db, key)
    assert _integrity(db) == "ok"


@sqlite_only
def test_ctrl_c_mid_import_stops_cleanly(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES, rules)
    src = tmp_path / "big.csv"
    _write_leads(src, "c", INTERRUPT_ROWS)
    db = str(tmp_path / "int.db")
    # As in a terminal: a background job without job control (how CI may start) ignores SIGINT,
    # and a child that inherits that would never see the Ctrl-C.
    proc = subprocess.Popen([*LEADCTL, "import", str(src), "--no-process"], env=_env(db, rules),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        _wait_for_leads(db, proc)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode in (1, 130), (proc.returncode, err)
    assert "Traceback" not in err, err
    assert 1 <= len(err.strip().splitlines()) <= 2, err
    assert _integrity(db) == "ok"
    n = _lead_count(db)
    assert n % 5000 == 0  # whole chunks only: the open one was rolled back
    (status,) = query(db, "SELECT status FROM batches")[0]
    assert status == "interrupted"
