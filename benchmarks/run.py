#!/usr/bin/env python3
"""leadctl benchmark harness: measures the targets of DESIGN.md "Performance targets".

    . .venv/bin/activate
    python benchmarks/run.py                          # 10k, 100k, 1M; 3 runs each (slow)
    python benchmarks/run.py --sizes 10k --runs 1     # quick look
    python benchmarks/run.py --only import,sqlite-utils,help
    python benchmarks/run.py --sizes 100k --runs 1 --only process-first,process-floor --output pf.md
    python benchmarks/run.py --pg postgresql+psycopg://user@host/db   # adds import/process at 100k on PostgreSQL

Lead files come from ../shared/data/gen_leads.py, activity files are derived from them
deterministically; both are cached in --cache. Every timed command runs in a fresh
subprocess; time is wall clock (median of --runs, with the min-max spread), CPU is the
child's user + system seconds and memory its peak RSS, both as the OS reports them for
the child and the children it waited for (os.wait4: the import's reading worker counts
in the CPU; peak RSS is the larger of the two processes, not their sum). The results,
with the machine, date and commit, go to --output (benchmarks/RESULTS.md); the text
between the <!-- notes --> markers of an existing file is kept. Standard library only;
sqlite-utils (the `bench` extra) is the comparison baseline for the import.

Two floors run beside the import, on the same file, in the same run:
- `sqlite3 .import --csv`: the C shell loading the raw CSV into one table of TEXT columns
  (install the shell with `apt-get install sqlite3`; without it, Python's sqlite3 module
  `executemany`s the raw CSV rows into such a table instead, and the row says so);
- leadctl's write floor (`write-floor`): what the timed import wrote, every table (leads, stage
  history, imported-row hashes, identifiers, the batch, ...), found by comparing its store with
  the empty store it started from (untimed), written into a fresh copy of the empty store by
  `leadctl.store.bulk`, in one transaction, with the indexes and triggers handled as the import
  handled them for that load: a large first load (store.indexes `built_after`: at 100k and 1M)
  drops the after-load indexes and stage_stays' triggers first and builds and counts them again
  at the end, inside the transaction; a smaller one (10k) keeps them in place.

A first `process` has its floor too. `process-first` times `process` on a copy of a store
made by `import --no-process` and `activity import` (the import row's own store when it ran;
no process since); `process-floor` writes what that process wrote — every lead's write-back
columns, its stage-history, follow-up, assignment and meta rows, found by comparing the
processed store with the unprocessed one (untimed) — into another copy of the unprocessed store
through `leadctl.store.bulk`, in one transaction, with the leads' indexes and stage_stays'
triggers a large process sets aside dropped, and built and counted again inside it.

Both floors come from one comparison of two stores and one writer (STORE_DIFF, FLOOR_WRITE);
stage_stays is never copied, but kept by its triggers or counted again, as the command does.
Each floor's store is then checked equal to its command's (every table, index and trigger);
the Ratios section says so, and what it wrote. A floor row's note gives its time inside the
transaction; the rest is start-up and unpickling.

A command that fails is reported as "failed: <first stderr line>" and the run goes on.
"""
from __future__ import annotations

import argparse
import compileall
import csv
import json
import os
import platform
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
NOW = "2026-06-01T10:00"
BIN = Path(sys.executable).parent
LEADCTL = [str(BIN / "leadctl")] if (BIN / "leadctl").exists() else [sys.executable, "-m", "leadctl"]
SQLITE_UTILS = BIN / "sqlite-utils"
SQLITE3 = shutil.which("sqlite3")
MB = 1024 * 1024
FULL = 1_000_000  # the size the time targets are stated for

# name -> (label, target text, time limit in s or None, limit applies at every size?)
MEASUREMENTS = {
    "python": ("python -c pass (baseline)", "", None, False),
    "stack": ("python -c 'import typer, sqlmodel' (stack floor)", "", None, False),
    "help": ("leadctl --help", "< 0.3 s", 0.3, True),
    "version": ("leadctl --version", "", None, False),
    "import": ("import --no-process", "< 30 s, ≥ 2× sqlite-utils, < 300 MB", 30, False),
    "sqlite-utils": ("sqlite-utils insert --csv", "", None, False),
    "sqlite3": ("sqlite3 .import --csv (C floor: raw text, one table)", "", None, False),
    "write-floor": ("import write floor: what that import wrote, every table, via store.bulk, one transaction", "",
                    None, False),
    "import-process": ("import (processing on)", "", None, False),
    "process-first": ("process, first run after import --no-process and activity import", "< 45 s", 45, False),
    "process-floor": ("process write floor: what that first process wrote, via store.bulk, one transaction", "", None,
                      False),
    "process": ("process", "< 20 s", 20, False),
    "process-model": ("process, first run with a model (model.yaml: predicted for every lead)", "", None, False),
    "funnel": ("report funnel", "< 1 s", 1, False),
    "sources": ("report sources", "< 1 s", 1, False),
    "owners": ("report owners", "< 1 s", 1, False),
    "report-floor": ("report floor: plain sqlite3 GROUP BY stage, source and owner, as JSON", "", None, False),
    "due": ("followups due", "< 0.5 s", 0.5, False),
    "remind": ("followups remind (idle sweep)", "< 0.5 s", 0.5, False),
    "export": ("export leads", "< 300 MB", None, False),
    "duplicates": ("leads duplicates (store-wide duplicate finder)", "", None, False),
}
PG = {"pg-import": "PostgreSQL: import --no-process", "pg-process": "PostgreSQL: process"}
MEMORY_LIMIT_MB = {"import": 300, "export": 300}
# Without the sqlite3 shell the C floor is replaced by this one, named for what it is.
PY_FLOOR_LABEL = "python sqlite3 executemany of the raw CSV (floor; sqlite3 shell not installed)"


class Failed(Exception):
    """A command exited non-zero; the message is its first stderr line."""


def parse_size(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 10000, 10k, 1M)")
    return int(float(m[1]) * {"": 1, "k": 1_000, "m": 1_000_000}[m[2].lower()])


def human(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def run(cmd: list[str], cwd: Path) -> tuple[float, float, str, float]:
    """Run cmd once in a fresh process: (wall seconds, peak RSS MB, stdout, CPU seconds). Raises Failed."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        env = {**os.environ, "NO_COLOR": "1"}
        for var in ("LEADCTL_DB", "LEADCTL_RULES", "LEADCTL_NOW"):
            env.pop(var, None)
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        except OSError as exc:
            raise Failed(str(exc)) from None
        # wait4 reaps the child and gives its own rusage; tell Popen so it never waits again.
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise Failed(first_error_line(stderr) or f"exit {proc.returncode}")
    # ru_maxrss is in KiB on Linux; user + system CPU include the children the child waited for.
    return seconds, usage.ru_maxrss / 1024, stdout, usage.ru_utime + usage.ru_stime


def first_error_line(stderr: str) -> str:
    """The first stderr line that says something: not click's usage preamble, not a box border."""
    lines = [line.strip().strip("│╭╮╰╯─ ") for line in stderr.splitlines()]
    lines = [line for line in lines if line and line != "Error" and not line.startswith(("Usage:", "Try '"))]
    if lines and lines[0].startswith("Traceback"):  # the exception line, not SQLAlchemy's link after it
        return next((line for line in reversed(lines) if not line.startswith("(Background")), lines[-1])
    return lines[0] if lines else ""


def leadctl(db: str | Path, rules: Path, *args: str) -> list[str]:
    return [*LEADCTL, "--db", str(db), "--rules", str(rules), "--now", NOW, *args]


# ---------------------------------------------------------------- data

def lead_file(cache: Path, n: int) -> Path:
    path = cache / f"leads-{n}.csv"
    if not path.exists():
        gen = SHARED / "data" / "gen_leads.py"
        if not gen.exists():
            sys.exit(f"error: the lead generator {gen} is missing (expected the shared/ folder next to the repo)")
        print(f"generating {path.name} ...", file=sys.stderr)
        tmp = path.with_suffix(".tmp")
        with tmp.open("w") as fh:
            subprocess.run([sys.executable, str(gen), str(n)], stdout=fh, check=True)
        tmp.rename(path)
    return path


def activity_file(cache: Path, n: int, leads: Path) -> Path:
    """~2 activities each for a 20% sample of the leads with an e-mail, seeded by n."""
    path = cache / f"activities-{n}.csv"
    if path.exists():
        return path
    rng = random.Random(n)
    now = datetime.fromisoformat(NOW)
    kinds = [("page_view", "/pricing"), ("page_view", "/demo"), ("demo_request", ""),
             ("email_open", ""), ("webinar_attended", ""), ("call", "")]
    tmp = path.with_suffix(".tmp")
    with leads.open(newline="") as src, tmp.open("w", newline="") as dst:
        out = csv.writer(dst)
        out.writerow(["email", "type", "at", "url"])
        for row in csv.DictReader(src):
            email = (row.get("Email") or "").strip()
            if "@" not in email or rng.random() >= 0.2:
                continue
            for _ in range(rng.choice((1, 2, 2, 3))):
                kind, url = rng.choice(kinds)
                at = now - timedelta(minutes=rng.randrange(60 * 24 * 60))
                out.writerow([email, kind, at.strftime("%Y-%m-%dT%H:%M:%S"), url])
    tmp.rename(path)
    return path


# A model over the generated leads' fields and activities, as `model fit` writes one (the
# generated leads have no outcomes to fit on): what applying a model in `process` costs.
BENCH_MODEL = """version: 1
intercept: -1.1
features:
  - {name: source, type: category, values: {Webinar: 0.9, Referral: 0.7, Cold Call: -0.8}, other: 0.0, missing: -0.2}
  - {name: industry, type: category, values: {SaaS: 0.4, Fintech: 0.3, Government: -0.5}, other: 0.0}
  - {name: title, type: category, values: {CEO: 0.6, CTO: 0.5, Intern: -1.2}, other: 0.0}
  - name: employees
    type: number
    bins: [{below: 50, weight: -0.4}, {from: 50, below: 1000, weight: 0.2}, {from: 1000, weight: 0.5}]
  - name: activity.demo_request.count
    type: number
    bins: [{below: 1, weight: -0.3}, {from: 1, weight: 1.1}]
  - name: activity.email_open.days_since
    type: number
    bins: [{below: 14, weight: 0.4}, {from: 14, weight: -0.1}]
    missing: -0.3
"""


# ---------------------------------------------------------------- measuring

class Result:
    def __init__(self, name: str, label: str):
        self.name, self.label = name, label
        self.times: list[float] = []
        self.cpu: list[float] = []
        self.rss: list[float] = []
        self.inner: list[float] = []  # the write floor's time inside its transaction
        self.extra: dict = {}  # the process floor: what it wrote, and whether its store came out as process's
        self.rows = 0
        self.error = ""
        self.note = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times and not self.error else None

    @property
    def cpu_median(self) -> float | None:
        return statistics.median(self.cpu) if self.cpu and not self.error else None

    def rate(self) -> float | None:
        return self.rows / self.median if self.rows and self.median else None


def measure(name: str, label: str, runs: int, make_cmd, cwd: Path, rows: int = 0,
            setup=None, blocked: str = "", inner=None) -> Result:
    """Time make_cmd() `runs` times; setup() (untimed) runs before each run; inner(stdout), when
    given, reads a time the command measured itself."""
    res = Result(name, label)
    res.rows = rows
    if blocked:
        res.error = blocked
        return res
    print(f"  {label} ...", file=sys.stderr)
    try:
        for _ in range(runs):
            if setup:
                setup()
            seconds, rss, stdout, cpu = run(make_cmd(), cwd)
            res.times.append(seconds)
            res.cpu.append(cpu)
            res.rss.append(rss)
            if inner:
                res.inner.append(inner(stdout))
            if name.endswith("remind") and stdout.strip():
                res.note = "not idle: printed output"
    except Failed as exc:
        res.error = str(exc)
    except (OSError, subprocess.SubprocessError) as exc:
        res.error = f"{type(exc).__name__}: {exc}"
    return res


def bench_size(n: int, args, cache: Path, work: Path) -> list[Result]:
    wanted = args.only
    leads = lead_file(cache, n)
    acts = activity_file(cache, n, leads)
    rules, empty, ready = work / "rules", work / f"empty-{n}.db", work / f"ready-{n}.db"
    fresh = work / "run.db"
    results: list[Result] = []

    def add(name, make_cmd, **kw):
        if name in wanted:
            results.append(measure(name, MEASUREMENTS[name][0], args.runs, make_cmd, work, **kw))

    def copy(src: Path):
        return lambda: (fresh.unlink(missing_ok=True), shutil.copyfile(src, fresh))

    init_error = ""
    try:
        run(leadctl(empty, rules, "init"), work)
    except Failed as exc:
        init_error = f"failed: init: {exc}"

    add("python", lambda: [sys.executable, "-c", "pass"])
    add("stack", lambda: [sys.executable, "-c", "import typer, sqlmodel"])
    add("help", lambda: [*LEADCTL, "--help"])
    add("version", lambda: [*LEADCTL, "--version"])
    add("import", lambda: leadctl(fresh, rules, "import", str(leads), "--no-process", "--output-format", "json"),
        rows=n, setup=copy(empty), blocked=init_error)
    unprocessed, unprocessed_error = work / f"unprocessed-{n}.db", init_error
    if wanted & {"process-first", "process-floor"} and not unprocessed_error:
        unprocessed_error = prepare_unprocessed(results, fresh, empty, unprocessed, leadctl(
            unprocessed, rules, "import", str(leads), "--no-process"), leadctl(unprocessed, rules, "activity", "import",
                                                                               str(acts)), work)
    # The import's write floor: what the timed import wrote (its store kept in `imported` for the check).
    floor_rows, imported, imported_written = work / f"floor-{n}.pickle", work / f"imported-{n}.db", {}
    floor_error = init_error
    if "write-floor" in wanted and not floor_error:
        floor_error, imported_written = dump_floor(
            results, "import", fresh, copy(empty), leadctl(fresh, rules, "import", str(leads), "--no-process"),
            imported, ["import", str(imported), str(empty), str(floor_rows), str(leads)], work)
    if "sqlite-utils" in wanted:
        missing = "" if SQLITE_UTILS.exists() else f"failed: sqlite-utils not installed next to {sys.executable}"
        add("sqlite-utils", lambda: [str(SQLITE_UTILS), "insert", str(fresh), "leads", str(leads), "--csv"],
            rows=n, setup=lambda: fresh.unlink(missing_ok=True), blocked=missing)
    if "sqlite3" in wanted:
        if SQLITE3:  # the shell reads the header row as column names and the rest as TEXT values
            make = lambda: [SQLITE3, str(fresh), f'.import --csv "{leads}" leads']  # noqa: E731
            label = MEASUREMENTS["sqlite3"][0]
        else:
            make = lambda: [sys.executable, "-c", PY_FLOOR, str(leads), str(fresh)]  # noqa: E731
            label = PY_FLOOR_LABEL
        results.append(measure("sqlite3", label, args.runs, make, work, rows=n,
                               setup=lambda: fresh.unlink(missing_ok=True)))

    def add_floor(name: str, base: Path, reference: Path, dumped: dict, blocked: str) -> None:
        """Time FLOOR_WRITE on a copy of `base`; then check its store came out as `reference`."""
        inner_cpu: list[float] = []

        def inner(out: str) -> float:
            got = json.loads(out)
            inner_cpu.append(got["write_cpu_s"])
            return got["write_s"]

        add(name, lambda: [sys.executable, "-c", FLOOR_WRITE, str(fresh), str(floor_rows)], rows=n,
            setup=copy(base), blocked=blocked, inner=inner)
        if name in wanted and results[-1].median is not None:
            results[-1].extra["inner_cpu"] = inner_cpu
            check_floor(results[-1], dumped, fresh, reference, work)

    add_floor("write-floor", empty, imported, imported_written, floor_error)
    imported.unlink(missing_ok=True)
    add("import-process", lambda: leadctl(fresh, rules, "import", str(leads)), rows=n, setup=copy(empty),
        blocked=init_error)
    add("process-first", lambda: leadctl(fresh, rules, "process"), rows=n, setup=copy(unprocessed),
        blocked=unprocessed_error)
    processed, written = work / f"processed-{n}.db", {}
    if "process-floor" in wanted:
        if not unprocessed_error:
            unprocessed_error, written = dump_floor(
                results, "process-first", fresh, copy(unprocessed), leadctl(fresh, rules, "process"), processed,
                ["process", str(processed), str(unprocessed), str(floor_rows), str(rules), NOW], work)
        add_floor("process-floor", unprocessed, processed, written, unprocessed_error)
    for path in (unprocessed, processed, imported, floor_rows):
        path.unlink(missing_ok=True)

    # One database per size for the commands that read it: the import must work; a failing later
    # step (activities, process, the first sweep that sends what is due) is noted on those rows.
    prep_error, prep_warnings = init_error, []
    if not prep_error and wanted & {"process", "process-model", "funnel", "sources", "owners", "report-floor", "due",
                                    "remind", "export", "duplicates"}:
        print(f"  preparing the {human(n)} database (import, activities, process, first sweep) ...", file=sys.stderr)
        shutil.copyfile(empty, ready)
        try:
            run(leadctl(ready, rules, "import", str(leads)), work)
        except Failed as exc:
            try:  # processing may be what fails: the reports and export can still be timed
                shutil.copyfile(empty, ready)
                run(leadctl(ready, rules, "import", str(leads), "--no-process"), work)
                prep_warnings.append(f"prep import with processing failed: {exc}")
            except Failed as exc2:
                prep_error = f"failed: preparing (import): {exc2}"
        for step in ([] if prep_error else (["activity", "import", str(acts)], ["process"], ["followups", "remind"])):
            try:
                run(leadctl(ready, rules, *step), work)
            except Failed as exc:
                prep_warnings.append(f"prep {' '.join(step[:2])} failed: {exc}")
    first_dependent = len(results)

    add("process", lambda: leadctl(fresh, rules, "process"), rows=n, setup=copy(ready), blocked=prep_error)
    if "process-model" in wanted:
        with_model = work / "rules-model"
        shutil.rmtree(with_model, ignore_errors=True)
        shutil.copytree(rules, with_model)
        (with_model / "model.yaml").write_text(BENCH_MODEL, encoding="utf-8")
        add("process-model", lambda: leadctl(fresh, with_model, "process"), rows=n, setup=copy(ready),
            blocked=prep_error)
    add("funnel", lambda: leadctl(ready, rules, "report", "funnel", "--format", "json"), blocked=prep_error)
    add("sources", lambda: leadctl(ready, rules, "report", "sources", "--format", "json"), blocked=prep_error)
    add("owners", lambda: leadctl(ready, rules, "report", "owners", "--format", "json"), blocked=prep_error)
    add("report-floor", lambda: [sys.executable, "-c", REPORT_FLOOR, str(ready)], blocked=prep_error)
    add("due", lambda: leadctl(ready, rules, "followups", "due", "--format", "json"), blocked=prep_error)
    add("remind", lambda: leadctl(ready, rules, "followups", "remind"), blocked=prep_error)
    add("export", lambda: leadctl(ready, rules, "export", "leads", "--format", "csv", "--output",
                                  str(work / "export.csv")), rows=n, blocked=prep_error)
    add("duplicates", lambda: leadctl(ready, rules, "leads", "duplicates", "--format", "csv"), rows=n,
        blocked=prep_error)
    for res in results[first_dependent:]:
        res.note = "; ".join(filter(None, [res.note, *prep_warnings]))
    for path in (empty, ready, fresh, work / "export.csv"):
        path.unlink(missing_ok=True)
    return results


def prepare_unprocessed(results: list[Result], fresh: Path, empty: Path, dest: Path, import_cmd: list[str],
                        activity_cmd: list[str], work: Path) -> str:
    """Make `dest` a store after `import --no-process` and `activity import`, never processed since; "" or why not.

    The timed import's last run left its store in `fresh`; without it, an untimed import makes one.
    """
    imported = next((r for r in results if r.name == "import"), None)
    print("  preparing the unprocessed store (import --no-process, activities) ...", file=sys.stderr)
    try:
        if imported and imported.median is not None and fresh.exists():
            shutil.copyfile(fresh, dest)
        else:
            shutil.copyfile(empty, dest)
            run(import_cmd, work)
        run(activity_cmd, work)
    except Failed as exc:
        return f"failed: preparing the unprocessed store: {exc}"
    return ""


def dump_floor(results: list[Result], name: str, fresh: Path, reset, cmd: list[str], keep: Path, diff_args: list[str],
               work: Path) -> tuple[str, dict]:
    """Save what the command of row `name` wrote (its store against the one it started from, by STORE_DIFF)
    for its write floor; ("" or why not, {"aside": indexes, "written": what}). Its store is kept in `keep`.

    The timed command's last run left its store in `fresh`; without it, an untimed run makes one.
    """
    timed = next((r for r in results if r.name == name), None)
    print(f"  dumping what {name} wrote, for its write floor ...", file=sys.stderr)
    try:
        if not (timed and timed.median is not None and fresh.exists()):
            reset()
            run(cmd, work)
        fresh.replace(keep)
        out = run([sys.executable, "-c", STORE_DIFF, *diff_args], work)[2]
    except Failed as exc:
        return f"failed: preparing the write floor of {name}: {exc}", {}
    return "", json.loads(out)


def check_floor(res: Result, dumped: dict, floor_store: Path, reference: Path, work: Path) -> None:
    """Record what the floor wrote (and set aside) and whether its last run left the store its command
    left (every table, index and trigger); a floor that wrote less than the command would look cheaper."""
    res.extra.update(dumped)
    try:
        found = json.loads(run([sys.executable, "-c", STORE_DIFF, "check", str(reference), str(floor_store)],
                               work)[2])
    except Failed as exc:
        found = {"check": str(exc)}
    res.extra["equal"] = not found
    if found:
        res.note = "; ".join(filter(None, [res.note, "its store differs: " + ", ".join(sorted(found))]))


# What a command wrote, found by comparing its store with the one it started from (argv: mode, new
# store, old store, then for a dump the dump file and the mode's inputs). The floors' one diff:
# - "import" (inputs: the lead files): every table's rows added, columns changed and rows removed;
#   the indexes aside are those the import's store.indexes.built_after drops for that load into the
#   old store (AFTER_LOAD, or none);
# - "process" (inputs: rules, now): leads as process writes them: its write-back columns
#   (engine.process `update_keys`), with `stages_entered` where that changed, or the `processed`
#   stamp alone; every other table as for an import; the indexes aside those a large process sets
#   aside. It fails if process changed lead columns it does not write back.
# A dump pickles, as store.bulk takes them: the indexes aside, then per write a (table, op, columns
# set, key columns) header, its rows in parts and None. stage_stays is never among them: its
# triggers keep it, or (indexes aside) it is counted again at the end, as the command does.
# "check" prints the tables (and schema objects) in which two stores differ: {} when they are equal.
STORE_DIFF = """
import json, pickle, sys
from datetime import datetime
from sqlalchemy import MetaData, Table, Text, create_engine, select, text, type_coerce
from leadctl.store import indexes, models, stays
from leadctl.store.db import open_store
mode, new_db, old_db = sys.argv[1:4]
PART = 50_000
Q = '"%s"'.__mod__


def same(t, cols):
    return " AND ".join(f"o.{Q(c)} IS {Q(t.name)}.{Q(c)}" for c in cols) or "1"


def rows_where(t, cols, cond):
    # the rows of main.t (columns `cols`) whose row in old.t with the same key meets `cond` (o. is the old row)
    on = same(t, [c.name for c in t.primary_key.columns])
    return (select(*(type_coerce(t.c[c], Text) if c == "explanation" else t.c[c] for c in cols))
            .where(text(f"EXISTS (SELECT 1 FROM old.{Q(t.name)} AS o WHERE {on} AND ({cond}))"))
            .order_by(*t.primary_key.columns))


def diff(conn, t):
    # key columns, the other columns some kept row changed, the rows added, the keys removed
    pk = [c.name for c in t.primary_key.columns]
    cols = [c.name for c in t.columns if c.name not in pk]
    on = same(t, pk)
    added = select(*t.c).where(text(f"NOT EXISTS (SELECT 1 FROM old.{Q(t.name)} AS o WHERE {on})")) \\
        .order_by(*t.primary_key.columns)
    flags = conn.exec_driver_sql(f"SELECT {', '.join(f'max(NOT ({same(t, [c])}))' for c in cols)} "
                                 f"FROM main.{Q(t.name)} JOIN old.{Q(t.name)} AS o ON {on}").one() if cols else ()
    removed = select(*(text(f"o.{Q(k)}") for k in pk)).select_from(text(f"old.{Q(t.name)} AS o")).where(
        text(f"NOT EXISTS (SELECT 1 FROM main.{Q(t.name)} WHERE {on})"))
    return pk, [c for c, f in zip(cols, flags) if f], added, removed


def named(conn, t):
    # the columns to insert added rows with: those some added row holds a value in, or with a default. A
    # column the command left out is NULL; bulk would write a JSON column's None as 'null'.
    on = same(t, [c.name for c in t.primary_key.columns])
    flags = conn.exec_driver_sql(f"SELECT {', '.join(f'max({Q(c.name)} IS NOT NULL)' for c in t.columns)} "
                                 f"FROM main.{Q(t.name)} WHERE NOT EXISTS (SELECT 1 FROM old.{Q(t.name)} AS o "
                                 f"WHERE {on})").one()
    return [c.name for c, f in zip(t.columns, flags)
            if f or c.primary_key or c.default is not None or c.server_default is not None]


def count(conn, stmt):
    return conn.execute(select(text("count(*)")).select_from(stmt.subquery())).scalar()


store = open_store(new_db, create=False)
with store.connect() as conn:
    conn.exec_driver_sql("ATTACH DATABASE ? AS old", (old_db,))
    tables = [*models.SQLModel.metadata.sorted_tables, Table(stays.TABLE, MetaData(), autoload_with=conn)]
    if mode == "check":
        found = {}
        for t in tables:
            pk, changed, added, removed = diff(conn, t)
            if changed or count(conn, added) or count(conn, removed):
                found[t.name] = changed
        schema = "SELECT type, name, tbl_name FROM {}.sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        if set(conn.exec_driver_sql(schema.format("main"))) != set(conn.exec_driver_sql(schema.format("old"))):
            found["indexes or triggers"] = []
        print(json.dumps(found))
        sys.exit(0)
    dest, inputs = sys.argv[4], sys.argv[5:]
    leads = models.Lead.__table__
    ops, keys = [], []
    if mode == "process":
        from leadctl.engine.process import SET_ASIDE_MIN, SET_ASIDE_SHARE, Pipeline, load_steps
        from leadctl.rules.loader import load_rules
        pipeline = Pipeline(load_rules(inputs[0]), datetime.fromisoformat(inputs[1]), load_steps())
        keys = [*pipeline.writes, "explanation", "updated_at", "processed"]
        pk, changed, added, removed = diff(conn, leads)
        extra = set(changed) - {*keys, "stages_entered"}
        if extra or count(conn, added) or count(conn, removed):
            sys.exit("process changed leads beyond the columns it writes back: "
                     f"{sorted(extra) or 'rows added or removed'}")
        moved = f"NOT ({same(leads, ['stages_entered'])})"
        values = f"NOT ({same(leads, [k for k in keys if k != 'processed'])})"
        stamped = f"NOT ({moved}) AND NOT ({values}) AND NOT ({same(leads, ['processed'])})"
        ops = [(leads, [*keys, "stages_entered"], ["id"], rows_where(leads, [*keys, "stages_entered", "id"], moved)),
               (leads, keys, ["id"], rows_where(leads, [*keys, "id"], f"NOT ({moved}) AND {values}")),
               (leads, ["processed"], ["id"], rows_where(leads, ["processed", "id"], stamped))]
        # engine.process sets the indexes aside when it evaluates most of a large store and writes most of it
        held = conn.execute(select(text("max(id)")).select_from(leads)).scalar() or 0
        written = sum(count(conn, stmt) for *_, stmt in ops[:2])
        aside = indexes.written_by((*keys, "stages_entered")) \\
            if held >= SET_ASIDE_MIN and written * SET_ASIDE_SHARE >= held else []
    else:
        # the import's decision (ingest.importer: built_after(store, _estimated_rows(paths))) on the old store
        from leadctl.ingest.importer import _estimated_rows
        engine = create_engine(f"sqlite:///{old_db}")
        with engine.connect() as before:
            aside = list(indexes.AFTER_LOAD) if indexes.worth_it(before, _estimated_rows(inputs)) else []
        engine.dispose()
    for t in tables:
        if (t is leads and mode == "process") or t.name == stays.TABLE:
            continue
        pk, changed, added, removed = diff(conn, t)
        ops.append((t, None, pk, removed))
        if changed:
            ops.append((t, changed, pk, rows_where(t, [*changed, *pk], f"NOT ({same(t, changed)})")))
        cols = named(conn, t)
        ops.append((t, cols, None, added.with_only_columns(*(t.c[c] for c in cols))))
    summary: dict = {}
    with open(dest, "wb") as out:
        pickle.dump(aside, out)
        for t, sets, where, stmt in ops:
            op = "insert" if where is None else "delete" if sets is None else "update"
            pickle.dump((t.name, op, sets, where), out)
            n = 0
            for part in conn.execution_options(yield_per=PART).execute(stmt).partitions():
                rows = [tuple(r) for r in part]
                if t is leads and mode == "process" and "explanation" in sets:
                    # one object per distinct explanation in a part, as process shares them (bulk encodes each once)
                    at, shared = sets.index("explanation"), {}
                    rows = [r if r[at] is None else (*r[:at], shared[r[at]] if r[at] in shared else
                                                     shared.setdefault(r[at], json.loads(r[at])), *r[at + 1:])
                            for r in rows]
                pickle.dump(rows, out, protocol=pickle.HIGHEST_PROTOCOL)
                n += len(rows)
            pickle.dump(None, out)
            if n:
                name = "leads (processed stamp only)" if sets == ["processed"] else t.name
                summary.setdefault(name, {}).setdefault(op, 0)
                summary[name][op] += n
    print(json.dumps({"aside": aside, "written": summary}))
"""

# Writes a dump of STORE_DIFF into a copy of the old store in one transaction, as the command did: the
# indexes it set aside dropped first and built again at the end, stage_stays' triggers with them and
# its rows counted again then (store.indexes.set_aside, all inside the transaction, so timed); without
# indexes aside, everything in place. Prints the seconds inside the transaction less the unpickling
# (wall and CPU), and the unpickling.
FLOOR_WRITE = """
import json, pickle, sys, time
from contextlib import nullcontext
from leadctl.store import bulk, indexes, models
from leadctl.store.db import open_store
store = open_store(sys.argv[1], create=False)
tables = models.SQLModel.metadata.tables
load = load_cpu = 0.0
with open(sys.argv[2], "rb") as fh:
    aside = pickle.load(fh)
    start, start_cpu = time.perf_counter(), time.process_time()
    with store.begin() as conn:
        with indexes.set_aside(lambda: nullcontext(conn), aside, triggers=True):
            while True:
                try:
                    name, op, sets, where = pickle.load(fh)
                except EOFError:
                    break
                table = tables[name]
                while True:
                    t, t_cpu = time.perf_counter(), time.process_time()
                    part = pickle.load(fh)
                    load += time.perf_counter() - t
                    load_cpu += time.process_time() - t_cpu
                    if part is None:
                        break
                    if op == "insert":
                        bulk.insert(conn, table, part, sets)
                    elif op == "update" and where == ["id"]:
                        bulk.update_by_id(conn, table, part, [*sets, "id"])
                    elif op == "update":
                        bulk.update_where(conn, table, part, sets, where)
                    else:  # store.bulk has no DELETE
                        conn.exec_driver_sql(f'DELETE FROM "{name}" WHERE ' + " AND ".join(f'"{k}" = ?' for k in where),
                                             part)
    total, total_cpu = time.perf_counter() - start, time.process_time() - start_cpu
print(json.dumps({"write_s": total - load, "write_cpu_s": total_cpu - load_cpu, "load_s": load}))
"""

# The reports' floor: Python's sqlite3 doing the plain GROUP BYs the reports start from, printing JSON.
REPORT_FLOOR = """
import json, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
print(json.dumps({c: con.execute(f"SELECT {c}, count(*) FROM leads GROUP BY {c}").fetchall()
                  for c in ("stage", "source", "owner")}))
"""

# The floor when the sqlite3 shell is missing: the raw CSV rows into one table of TEXT columns.
PY_FLOOR = """
import csv, sqlite3, sys
with open(sys.argv[1], newline="", encoding="utf-8") as fh:
    reader = csv.reader(fh)
    header = next(reader)
    width = len(header)
    conn = sqlite3.connect(sys.argv[2])
    conn.execute("CREATE TABLE leads (%s)" % ", ".join('"%s" TEXT' % h.replace('"', '""') for h in header))
    with conn:
        conn.executemany("INSERT INTO leads VALUES (%s)" % ", ".join("?" * width),
                         ((r + [None] * width)[:width] for r in reader))
"""


PG_RESET = """
import sys
from sqlalchemy import create_engine
from sqlmodel import SQLModel
import leadctl.store.models
engine = create_engine(sys.argv[1])
with engine.begin() as conn:
    SQLModel.metadata.drop_all(conn)
"""


def bench_pg(url: str, args, cache: Path, work: Path) -> list[Result]:
    n = 100_000
    leads, rules = lead_file(cache, n), work / "rules"

    def reset():
        try:
            run([sys.executable, "-c", PG_RESET, url], work)
            run(leadctl(url, rules, "init"), work)
        except Failed as exc:
            raise Failed(f"resetting the database: {exc}") from None

    cmd = lambda: leadctl(url, rules, "import", str(leads), "--no-process", "--output-format", "json")  # noqa: E731
    results = [measure("pg-import", PG["pg-import"], args.runs, cmd, work, rows=n, setup=reset)]
    blocked = "failed: needs the import" if results[0].error else ""
    results.append(measure("pg-process", PG["pg-process"], args.runs, lambda: leadctl(url, rules, "process"),
                           work, rows=n, blocked=blocked))  # process re-applies everything: same work each run
    return results


# ---------------------------------------------------------------- report

def verdict(res: Result, n: int, ratio: float | None) -> str:
    if res.error:
        return res.error if res.error.startswith("failed") else f"failed: {res.error}"
    _, _, limit, everywhere = MEASUREMENTS.get(res.name, ("", "", None, False))
    missed, checked = [], False
    if limit is not None and (everywhere or n >= FULL):
        checked = True
        if res.median >= limit:
            missed.append(f"{res.median:.2f} s")
    if res.name in MEMORY_LIMIT_MB:
        checked = True
        if max(res.rss) >= MEMORY_LIMIT_MB[res.name]:
            missed.append(f"{max(res.rss):.0f} MB")
    if res.name == "import" and ratio is not None:
        checked = True
        if ratio < 2:
            missed.append(f"{ratio:.2f}× sqlite-utils")
    text = ("missed: " + ", ".join(missed)) if missed else "met" if checked else "n.a."
    note = res.note
    if res.inner:
        note = "; ".join(filter(None, [f"in the transaction {statistics.median(res.inner):.3f} s (median); "
                                       "the rest is start-up and unpickling", note]))
    return f"{text} ({note})" if note else text


def written_text(extra: dict, whose: str) -> str:
    """What a floor wrote, and whether its store came out as `whose` (empty for other rows)."""
    if "written" not in extra:
        return ""
    verbs = {"insert": "inserted", "update": "updated", "delete": "deleted"}
    parts = [f"{table} " + ", ".join(f"{n:,} {verbs[op]}" for op, n in ops.items())
             for table, ops in extra["written"].items()]
    aside = extra.get("aside")
    how = (f"{len(aside)} indexes and stage_stays' triggers set aside, built and counted again inside the "
           "transaction" if aside else "every index and trigger in place")
    same = f"its store then equals {whose} (every table, index and trigger)" if extra.get("equal") \
        else f"its store differs from {whose} (see the row)"
    return f". The floor wrote: {'; '.join(parts)}; {how}; {same}."


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:200]


def table(results: list[Result], n: int, ratio: float | None) -> list[str]:
    lines = ["| measurement | median s | spread (min–max) | CPU s | rows/s | peak RSS MB | target | verdict |",
             "|---|---:|---:|---:|---:|---:|---|---|"]
    for r in results:
        ok = r.median is not None
        rate = r.rate()
        target = MEASUREMENTS.get(r.name, ("", ""))[1]
        lines.append("| " + " | ".join([
            cell(r.label),
            f"{r.median:.3f}" if ok else "–",
            f"{min(r.times):.3f}–{max(r.times):.3f}" if ok else "–",
            f"{r.cpu_median:.3f}" if ok else "–",
            f"{rate:,.0f}" if rate else "",
            f"{max(r.rss):.0f}" if ok else "–",
            target,
            cell(verdict(r, n, ratio)),
        ]) + " |")
    return lines


def machine() -> str:
    mem = "?"
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[1])
        mem = f"{kb / MB:.1f} GB"
    except (OSError, TypeError):
        pass
    return (f"{os.cpu_count()} cores, {mem} memory, Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}, {platform.platform()}")


def commit(output: Path) -> str:
    """HEAD, plus "+dirty" when changed or untracked files (other than the results) are in the tree."""
    def git(*a):  # rstrip only: porcelain lines start with a status column that may be a space
        return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True).stdout.rstrip()
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    changes = [line for line in git("status", "--porcelain").splitlines()
               if (REPO / line[3:].strip('"')).resolve() != output.resolve()]
    return head + ("+dirty" if changes else "")


def notes_of(output: Path) -> str:
    default = "Profiles and explanations go here; the harness keeps this section on reruns."
    if output.exists():
        m = re.search(r"<!-- notes -->\n?(.*?)<!-- /notes -->", output.read_text(), re.S)
        if m:
            return m[1].strip("\n")
    return default


def write_report(output: Path, args, by_size: dict[int, list[Result]], pg: list[Result]) -> None:
    lines = ["# leadctl benchmark results", "",
             f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
             f"- commit: {commit(output)}",
             f"- machine: {machine()}",
             f"- command: `python benchmarks/run.py {' '.join(sys.argv[1:])}`",
             f"- {args.runs} run(s) per measurement, each in a fresh process; --now {NOW}",
             "", "Time targets are for 1M leads on a 2-core machine (DESIGN.md); at smaller sizes "
             "they are n.a. except `--help`. Memory targets apply at every size.", ""]
    ratios = []
    for n, results in by_size.items():
        got = {r.name: r for r in results}
        imp, su = got.get("import"), got.get("sqlite-utils")
        ratio = imp.rate() / su.rate() if imp and su and imp.rate() and su.rate() else None
        lines += [f"## {human(n)} leads", "", *table(results, n, ratio), ""]
        ratios.append(f"- {human(n)}: leadctl import vs sqlite-utils insert: "
                      + (f"{ratio:.2f}× rows/s" if ratio else "n.a. (one of them did not run)"))
        for name, floor_name, what, whose in (
                ("import", "sqlite3", "leadctl import vs the sqlite3 shell's .import", ""),
                ("import", "write-floor", "leadctl import vs leadctl's write floor", "the import's"),
                ("process-first", "process-floor", "leadctl first process vs its write floor",
                 "the first process's")):
            cmd, floor = got.get(name), got.get(floor_name)
            if cmd and floor and cmd.median and floor.median:
                inner = f", {cmd.median / statistics.median(floor.inner):.2f}× its time in the transaction" \
                    if floor.inner else ""
                if floor.extra.get("inner_cpu"):
                    cpu = statistics.median(floor.extra["inner_cpu"])
                    inner += f" and {cmd.cpu_median / max(cpu, 1e-3):.2f}× its CPU time there ({cpu:.3f} CPU s)"
                ratios.append(f"- {human(n)}: {what}: {cmd.median / floor.median:.2f}× the wall "
                              f"time, {cmd.cpu_median / max(floor.cpu_median, 1e-3):.2f}× the CPU time{inner}"
                              + written_text(floor.extra, whose))
    if pg:
        lines += ["## PostgreSQL, 100k leads", "", *table(pg, 100_000, None), ""]
    lines += ["## Ratios", "", *ratios, ""]
    sizes = sorted(by_size)
    if len(sizes) > 1:
        for name in ("import", "export"):
            lo, hi = ({r.name: r for r in by_size[s]}.get(name) for s in (sizes[0], sizes[-1]))
            if lo and hi and lo.median and hi.median:
                a, b = max(lo.rss), max(hi.rss)
                lines.append(f"- memory flatness, {name}: peak RSS {a:.0f} MB at {human(sizes[0])} vs "
                             f"{b:.0f} MB at {human(sizes[-1])} ({b / a:.2f}×)")
            else:
                lines.append(f"- memory flatness, {name}: n.a. (did not run at both sizes)")
        lines.append("")
    lines += ["## Notes", "", "<!-- notes -->", notes_of(output), "<!-- /notes -->", ""]
    output.write_text("\n".join(lines))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="10000,100000,1000000",
                   type=lambda s: [parse_size(x) for x in s.split(",") if x.strip()],
                   help="lead counts, comma-separated; 10k and 1M work (default: 10k,100k,1M)")
    p.add_argument("--runs", type=int, default=3, help="runs per measurement (median, min-max spread)")
    p.add_argument("--pg", metavar="URL", help="also time import and process at 100k against this PostgreSQL")
    p.add_argument("--output", type=Path, default=REPO / "benchmarks" / "RESULTS.md")
    p.add_argument("--cache", type=Path, default=REPO / "benchmarks" / ".cache", help="generated data files")
    p.add_argument("--only", type=lambda s: set(s.split(",")), default=set(MEASUREMENTS) | set(PG),
                   help="measurements to run: " + ",".join([*MEASUREMENTS, *PG]))
    args = p.parse_args()
    unknown = args.only - set(MEASUREMENTS) - set(PG)
    if unknown or args.runs < 1:
        p.error(f"unknown measurement(s): {', '.join(sorted(unknown))}" if unknown else "--runs must be ≥ 1")
    if not (SHARED / "data" / "gen_leads.py").exists():
        p.error(f"{SHARED / 'data' / 'gen_leads.py'} not found: the shared/ folder must sit next to the repo")
    args.cache.mkdir(parents=True, exist_ok=True)
    # An installed package has its bytecode compiled; with PYTHONDONTWRITEBYTECODE set (or a
    # fresh checkout) every timed start-up would otherwise compile leadctl from source.
    compileall.compile_dir(REPO / "leadctl", quiet=1)
    by_size, pg = {}, []
    with tempfile.TemporaryDirectory(prefix="work-", dir=args.cache) as tmp:
        work = Path(tmp)
        for n in sorted(set(args.sizes)):
            print(f"{human(n)} leads:", file=sys.stderr)
            by_size[n] = bench_size(n, args, args.cache, work)
        if args.pg and args.only & set(PG):
            print("PostgreSQL, 100k leads:", file=sys.stderr)
            pg = [r for r in bench_pg(args.pg, args, args.cache, work) if r.name in args.only]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_report(args.output, args, by_size, pg)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
