"""The benchmark harness runs end to end at a tiny size, so it cannot rot.

No timing assertions here: the numbers only mean something in benchmarks/RESULTS.md.
"""
from __future__ import annotations

import shutil
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
