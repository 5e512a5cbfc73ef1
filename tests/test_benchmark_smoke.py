"""The benchmark harness runs end to end at a tiny size, so it cannot rot.

No timing assertions here: the numbers only mean something in benchmarks/RESULTS.md.
"""
from __future__ import annotations

import importlib.util
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
LABELS = {
    "python": "python -c pass (baseline)",
    "stack": "python -c 'import typer, sqlmodel' (stack floor)",
    "help": "leadctl --help",
    "version": "leadctl --version",
    "import": "import --no-process",
    "sqlite-utils": "sqlite-utils insert --csv",
    # without the sqlite3 shell the harness names its Python stand-in for what it is
    "sqlite3": ("sqlite3 .import --csv (C floor: raw text, one table)" if shutil.which("sqlite3") else
                "python sqlite3 executemany of the raw CSV (floor; sqlite3 shell not installed)"),
    "write-floor": "write floor: leads + stage history via store.bulk, one transaction",
    "import-process": "import (processing on)",
    "process-first": "process, first run after import --no-process and activity import",
    "process-floor": "process write floor: what that first process wrote, via store.bulk, one transaction",
    "process": "process",
    "funnel": "report funnel",
    "sources": "report sources",
    "due": "followups due",
    "remind": "followups remind (idle sweep)",
    "export": "export leads",
}


def row(report: str, label: str) -> str:
    for line in report.splitlines():
        if line.startswith(f"| {label} |"):
            return line
    raise AssertionError(f"no table row for {label!r} in:\n{report}")


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_DATA / "gen_leads.py").exists(), reason="../shared/data is absent")
def test_harness_runs_at_1000_leads(tmp_path):
    out = tmp_path / "r.md"
    (out).write_text("# old\n## Notes\n<!-- notes -->\nkept by hand\n<!-- /notes -->\n")
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--sizes", "1000", "--runs", "1",
         "--output", str(out), "--cache", str(tmp_path / "cache")],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    report = out.read_text()
    assert "| measurement | median s | spread (min–max) | CPU s |" in report
    assert "- commit: " in report and "- machine: " in report
    assert "leadctl import vs sqlite-utils insert" in report
    assert "leadctl import vs leadctl's write floor" in report
    assert "kept by hand" in report  # the notes section survives a rerun
    rows = {name: row(report, label) for name, label in LABELS.items()}
    # Every command exists: a measurement that says "failed" is a broken command or harness.
    failed = {name: line for name, line in rows.items() if "failed" in line}
    assert not failed, failed
    # every row has a CPU time (user + system of the child) beside its wall time
    assert all(line.split(" | ")[3].replace(".", "").isdigit() for line in rows.values()), rows
    assert "in the transaction" in rows["write-floor"]
    assert "in the transaction" in rows["process-floor"]
    assert "leadctl first process vs its write floor" in report


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_DATA / "gen_leads.py").exists(), reason="../shared/data is absent")
def test_process_floor_writes_what_the_first_process_wrote(tmp_path):
    # --only these two: the unprocessed store comes from an untimed import, the floor's rows from
    # comparing the timed process's store with it; the harness then checks the floor's store is the same.
    out = tmp_path / "r.md"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--sizes", "1000", "--runs", "1",
         "--only", "process-first,process-floor", "--output", str(out), "--cache", str(tmp_path / "cache")],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    report = out.read_text()
    first, floor = row(report, LABELS["process-first"]), row(report, LABELS["process-floor"])
    assert "failed" not in first and "failed" not in floor, (first, floor)
    assert "in the transaction" in floor and "differs" not in floor
    ratio = next(line for line in report.splitlines() if "leadctl first process vs its write floor" in line)
    # what it wrote is named, and the floor's store came out as the process's
    assert "leads " in ratio and "stage_history " in ratio and "followups " in ratio, ratio
    assert "its store then equals the first process's" in ratio, ratio
    assert row(report, LABELS["process-first"]).count("< 45 s") == 1
    assert "| import --no-process |" not in report  # only what was asked for


def _harness():
    spec = importlib.util.spec_from_file_location("bench_run", REPO / "benchmarks" / "run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_process_floor_check_finds_what_differs(tmp_path):
    # SQLite only (the harness times SQLite files): the check that keeps the process floor honest
    # must see a changed column, an added row and a missing index.
    from leadctl.store.db import open_store

    from conftest import add_lead

    a, b = tmp_path / "a.db", tmp_path / "b.db"
    store = open_store(str(a))
    add_lead(store, email="x@example.com")
    store.engine.dispose()
    shutil.copyfile(a, b)

    def check() -> dict:
        proc = subprocess.run([sys.executable, "-c", _harness().PROCESS_FLOOR_DIFF, "check", str(a), str(b)],
                              cwd=REPO, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    assert check() == {}
    with sqlite3.connect(b) as con:
        con.execute("UPDATE leads SET score = 99")
        con.execute("INSERT INTO meta (key, value) VALUES ('extra', '1')")
        con.execute("DROP INDEX ix_leads_stage")
    con.close()
    assert check() == {"leads": ["score"], "meta": [], "indexes or triggers": []}
