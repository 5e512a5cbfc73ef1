"""Shared fixtures: a real store per test — a SQLite file in tmp_path, or the
PostgreSQL database named by LEADCTL_TEST_DATABASE_URL (emptied before each test) — one
way to run the CLI (`run_cli`, through `main()`), and factories for leads and rule folders."""
from __future__ import annotations

import csv
import io
import os
import socket
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

PG_URL = os.environ.get("LEADCTL_TEST_DATABASE_URL")
# Under pytest-xdist every worker gets a database of its own on the same server
# (`leadctl_test_gw0`, …), created on first use: workers must not empty each other's tables.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
EXAMPLES = REPO / "examples"

os.environ.setdefault("LEADCTL_WIDTH", "120")
os.environ.setdefault("NO_COLOR", "1")


def _worker_database(url: str, worker: str) -> str:
    """`url` with the worker's own database name; the database is created when missing."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


if PG_URL and _WORKER:
    PG_URL = _worker_database(PG_URL, _WORKER)


def _empty_pg(url: str) -> None:
    from sqlalchemy import create_engine
    from sqlmodel import SQLModel

    import leadctl.store.models  # noqa: F401 - registers the tables

    engine = create_engine(url)
    with engine.begin() as conn:
        SQLModel.metadata.drop_all(conn)
    engine.dispose()


@pytest.fixture
def db_url(tmp_path) -> str:
    """A database for one test: PostgreSQL when the suite is given one, else a SQLite file."""
    if PG_URL:
        _empty_pg(PG_URL)
        return PG_URL
    return str(tmp_path / "leadctl.db")


@pytest.fixture
def store(db_url):
    from leadctl.store.db import open_store

    s = open_store(db_url)
    yield s
    s.dispose()


@pytest.fixture
def shared_data() -> Path:
    """`../shared/data` beside the repository; tests using it skip cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


sqlite_only = pytest.mark.skipif(bool(PG_URL), reason="checks a SQLite file")


def free_port() -> int:
    """A loopback port nobody listens on, for the SMTP and HTTP servers tests start."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the CLI, as a person runs it
@dataclass
class Run:
    """A finished `leadctl` command: its exit code, stdout and stderr."""

    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        """stdout then stderr, for checks that do not care which stream said it."""
        return self.out + self.err

    # The names click's CliRunner results use, so tests read the same either way.
    exit_code = property(lambda self: self.code)
    stdout = property(lambda self: self.out)
    stderr = property(lambda self: self.err)


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    return exc.code if isinstance(exc.code, int) else 1


@pytest.fixture
def run_cli(capsys, monkeypatch) -> Callable[..., Run]:
    """`run_cli("--db", url, "import", "x.csv")` runs `leadctl …` in this process through
    `main()`, the entry point with the one error handler, exactly as the installed command
    does; `input=` is standard input, `env=` extra environment (None removes a variable)."""
    from leadctl.cli.app import main

    def run(*args: str | Path, input: str | None = None, env: dict[str, str | None] | None = None) -> Run:
        capsys.readouterr()
        with monkeypatch.context() as m:
            for key, value in (env or {}).items():
                if value is None:
                    m.delenv(key, raising=False)
                else:
                    m.setenv(key, value)
            if input is not None:
                m.setattr(sys, "stdin", io.StringIO(input))
            try:
                main([str(a) for a in args])
                code = 0
            except SystemExit as exc:
                code = _exit_code(exc)
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run


# ---------------------------------------------------------------- factories
LEAD_TIME = datetime(2026, 11, 20, 10, 0)


def add_leads(store, n: int, *, at: datetime = LEAD_TIME, **values) -> list[int]:
    """Insert `n` lead rows with `values` (stage `new`, created and updated `at` unless
    given) straight into the store; their ids, in order."""
    from leadctl.store.models import Lead

    leads = Lead.__table__
    rows = [{"created_at": at, "updated_at": at, "stage": "new", **values} for _ in range(n)]
    with store.begin() as conn:
        result = conn.execute(leads.insert().returning(leads.c.id, sort_by_parameter_order=True), rows)
        return [r[0] for r in result]


def add_lead(store, *, at: datetime = LEAD_TIME, **values) -> int:
    """Insert one lead row (see `add_leads`); its id."""
    return add_leads(store, 1, at=at, **values)[0]


@pytest.fixture(scope="module")
def rules():
    """The default rule set (leadctl/default_rules), loaded once per module; a module with
    rules of its own defines its own `rules` fixture."""
    from leadctl.rules.loader import load_rules

    return load_rules(str(REPO / "leadctl" / "default_rules"))


def write_rules(folder: Path, **files: str) -> Path:
    """A rules folder with `name=yaml` files (`scoring=…` → scoring.yaml), dedented."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> str:
    """A small CSV file with a header row, UTF-8, as most exports are; returns its path."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def read_csv(path) -> list[dict[str, str]]:
    """The rows of a UTF-8 CSV file with a header row, as dicts."""
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def rejects(tmp_path) -> list[dict[str, str]]:
    """The rows of `tmp_path/rejects.csv` (rejects and warnings), none when the import wrote none."""
    path = tmp_path / "rejects.csv"
    return read_csv(path) if path.exists() else []


# ---------------------------------------------------------------- follow-ups
# The cadence most follow-up, SLA and reminder tests start from: a hot lead is called within
# 15 business minutes, e-mailed a business day later and called again three days after that.
HOT_LEAD_CADENCE = """\
  - name: Hot lead
    when: {temperature: hot}
    steps:
      - {after: 15m, action: call}
      - {after: 1d, action: email}
      - {after: 3d, action: call}
    stop_when: {stage: [opportunity, customer, lost, disqualified]}
"""


def run_followup_step(conn, rules, leads: list[dict], now: datetime):
    """`process`'s follow-up step over `leads` (lead rows as dicts) in the caller's transaction; its counts."""
    from leadctl.engine.context import ProcessContext
    from leadctl.engine.followups import FollowupStep

    ctx = ProcessContext(conn=conn, rules=rules, now=now)
    step = FollowupStep()
    step.start(ctx)
    step.chunk(ctx, leads)
    step.finish(ctx)
    return ctx.counts
