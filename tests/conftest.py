"""Shared fixtures: a real store per test — a SQLite file in tmp_path, or the
PostgreSQL database named by LEADCTL_TEST_DATABASE_URL (emptied before each test)."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

PG_URL = os.environ.get("LEADCTL_TEST_DATABASE_URL")
REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
EXAMPLES = REPO / "examples"

os.environ.setdefault("LEADCTL_WIDTH", "120")
os.environ.setdefault("NO_COLOR", "1")


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
