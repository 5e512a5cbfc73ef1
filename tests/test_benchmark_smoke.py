"""The benchmark harness runs end to end at a tiny size, so it cannot rot.

No timing assertions here: the numbers only mean something in benchmarks/RESULTS.md.
"""
from __future__ import annotations

import importlib.util
import json
import pickle
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
    "write-floor": "import write floor: what that import wrote, every table, via store.bulk, one transaction",
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
    assert "in the transaction" in rows["write-floor"] and "differs" not in rows["write-floor"]
    imported = next(line for line in report.splitlines() if "leadctl import vs leadctl's write floor" in line)
    # every table the import filled, and the floor's store came out as the import's
    assert "leads " in imported and "stage_history " in imported and "imported_rows " in imported, imported
    assert "batches 1 inserted" in imported and "its store then equals the import's" in imported, imported
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


def test_floor_check_finds_what_differs(tmp_path):
    # SQLite only (the harness times SQLite files): the check that keeps both floors honest
    # must see a changed column, an added row and a missing index.
    from leadctl.store.db import open_store

    from conftest import add_lead

    a, b = tmp_path / "a.db", tmp_path / "b.db"
    store = open_store(str(a))
    add_lead(store, email="x@example.com")
    store.engine.dispose()
    shutil.copyfile(a, b)

    def check() -> dict:
        proc = subprocess.run([sys.executable, "-c", _harness().STORE_DIFF, "check", str(a), str(b)],
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


def _python(*args: str | Path, cwd: Path) -> str:
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.slow
def test_import_floor_writes_every_table_the_import_wrote(tmp_path):
    # SQLite only. A small import (rows folded together, a rejected row) compared with the empty store it
    # started from; its dump written again into that empty store comes out as the import's store, with
    # the indexes in place (a small load) and with them set aside, built and counted again (a large one).
    from leadctl.store.indexes import AFTER_LOAD

    from conftest import write_csv

    harness = _harness()
    rules = REPO / "leadctl" / "default_rules"
    csv_file = write_csv(tmp_path / "leads.csv", ["Email", "First Name", "Company", "Lead Status"], [
        [f"p{i % 20}@example{i % 3}.com", f"P{i}", f"Co {i % 4}", "New" if i % 2 else "Qualified"] for i in range(40)
    ] + [["not an e-mail", "Bad", "", ""]])
    empty, imported, dump = tmp_path / "empty.db", tmp_path / "imported.db", tmp_path / "floor.pickle"
    cli = ["-m", "leadctl", "--rules", rules, "--now", "2026-06-01T10:00", "--db"]
    _python(*cli, empty, "init", cwd=tmp_path)
    shutil.copyfile(empty, imported)
    _python(*cli, imported, "import", csv_file, "--no-process", cwd=tmp_path)
    got = json.loads(_python("-c", harness.STORE_DIFF, "import", imported, empty, dump, csv_file, cwd=REPO))
    assert got["aside"] == []  # 41 rows: the import kept its indexes
    assert {"batches", "leads", "stage_history", "imported_rows"} <= set(got["written"]), got

    with open(dump, "rb") as fh:
        parts = []
        while True:
            try:
                parts.append(pickle.load(fh))
            except EOFError:
                break
    for aside in ([], list(AFTER_LOAD)):
        with open(dump, "wb") as fh:
            for part in [aside, *parts[1:]]:
                pickle.dump(part, fh)
        floor = tmp_path / "floor.db"
        shutil.copyfile(empty, floor)
        out = json.loads(_python("-c", harness.FLOOR_WRITE, floor, dump, cwd=REPO))
        assert out["write_s"] >= 0 and out["write_cpu_s"] >= 0
        assert json.loads(_python("-c", harness.STORE_DIFF, "check", imported, floor, cwd=REPO)) == {}, aside
    with sqlite3.connect(floor) as con:
        con.execute("DELETE FROM imported_rows WHERE rowid = (SELECT max(rowid) FROM imported_rows)")
    con.close()
    assert json.loads(_python("-c", harness.STORE_DIFF, "check", imported, floor, cwd=REPO)) == {"imported_rows": []}
