"""Helpers for the hardening tests: run the real CLI entry point and look into the store."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEFAULT_RULES = REPO / "leadctl" / "default_rules"
BAD = REPO / "tests" / "data" / "bad"


@pytest.fixture
def rules_dir(tmp_path) -> Path:
    d = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES, d)
    return d


@pytest.fixture
def cli(run_cli, db_url, rules_dir):
    """`cli("import", "x.csv", ...)` runs `leadctl --db DB --rules R ...` through `main()`."""
    return lambda *args: run_cli("--db", db_url, "--rules", rules_dir, *args)


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
