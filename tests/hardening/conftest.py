"""Helpers for the hardening tests: run the real CLI entry point and look into the store."""
from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEFAULT_RULES = REPO / "leadctl" / "default_rules"
BAD = REPO / "tests" / "data" / "bad"


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def rules_dir(tmp_path) -> Path:
    d = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES, d)
    return d


@pytest.fixture
def cli(capsys, db_url, rules_dir):
    """`cli("import", "x.csv", ...)` runs `leadctl --db DB --rules R ...` through `main()`,
    the entry point with the one error handler, and returns exit code, stdout, stderr."""
    from leadctl.cli.app import main

    def run(*args: str) -> Run:
        capsys.readouterr()
        try:
            main(["--db", db_url, "--rules", str(rules_dir), *args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run


def query(db_url: str, sql: str, **params):
    """Rows of one SQL statement against the test store (SQLite file or PostgreSQL)."""
    from sqlalchemy import create_engine, text

    from leadctl.store.db import to_url

    engine = create_engine(to_url(db_url))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def read_rejects(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
