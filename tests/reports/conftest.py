"""Helpers for report tests: stores built with direct inserts, and one from the real Olist export.

The `db_url` / `store` fixtures come from tests/conftest.py (SQLite file, or
PostgreSQL when LEADCTL_TEST_DATABASE_URL is set).
"""
from __future__ import annotations

import csv
import os
from datetime import datetime
from pathlib import Path

import pytest

from leadctl.store.history import record_stage_changes
from leadctl.store.models import Activity, Assignment, Lead, Owner, SlaBreach

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


def chromium() -> str:
    """The headless browser; skipped when absent, except in CI (CI=true), where it must be there."""
    import shutil

    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (CI installs it: .ci/run)")
        pytest.skip("chromium is not installed (Debian package `chromium`)")
    return found


def browse(browser: str, page: Path, tmp_path: Path) -> tuple[str, set[tuple[int, ...]]]:
    """A report page opened in the headless browser: its DOM, and the colours of a screenshot of it."""
    import subprocess

    import matplotlib.image

    profile, url = tmp_path / "profile", page.as_uri()
    dom = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                         capture_output=True, text=True, timeout=300)
    assert dom.returncode == 0, dom.stderr[-2000:]
    shot = tmp_path / "shot.png"
    done = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
                           "--window-size=1280,2400", "--hide-scrollbars", url],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    pixels = matplotlib.image.imread(str(shot))[:, :, :3]
    return dom.stdout, {tuple(int(255 * c) for c in px) for px in pixels[::4, ::4].reshape(-1, 3)}


@pytest.fixture
def run(run_cli, tmp_path):
    """`leadctl --db … report …` through `main()`, with a rules folder that does not exist."""
    def go(db_url, *args):
        return run_cli("--db", db_url, "--rules", tmp_path / "no-rules", "--now", "2026-03-01T12:00", *args,
                       env={"LEADCTL_WIDTH": "120", "NO_COLOR": "1"})

    return go


OLIST = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real" / "olist-marketing-funnel"
NOW = datetime(2026, 3, 1, 12, 0, 0)


def add_lead(conn, *, history=(), **fields) -> int:
    """Insert one lead (and its stage history: (stage, at) pairs); return its id."""
    values = {"created_at": datetime(2026, 1, 1), "stage": "new", "score": 0}
    values.update(fields)
    values.setdefault("updated_at", values["created_at"])
    if history and "stage" not in fields:
        values["stage"] = history[-1][0]
    lead_id = conn.execute(Lead.__table__.insert().values(**values)).inserted_primary_key[0]
    prev = None
    for stage, at in history:  # one call per row, as the engine records them
        record_stage_changes(conn, [dict(lead_id=lead_id, from_stage=prev, to_stage=stage, at=at, cause="manual")])
        prev = stage
    return lead_id


def add_activity(conn, lead_id, type_, at):
    conn.execute(Activity.__table__.insert().values(lead_id=lead_id, type=type_, at=at))


def add_assignment(conn, lead_id, owner, at):
    conn.execute(Assignment.__table__.insert().values(lead_id=lead_id, owner=owner, at=at, reason="test"))


def add_owner(conn, name, **fields):
    conn.execute(Owner.__table__.insert().values(name=name, **fields))


def add_breach(conn, lead_id, owner, at):
    conn.execute(SlaBreach.__table__.insert().values(lead_id=lead_id, rule="r", owner=owner, assigned_at=at,
                                                     due_at=at, breached_at=at, action="notify"))


def olist_rows():
    if not OLIST.is_dir():
        pytest.skip("the Olist export is not present in ../shared/data/real")
    with open(OLIST / "olist_marketing_qualified_leads_dataset.csv", newline="", encoding="utf-8") as fh:
        mqls = list(csv.DictReader(fh))
    with open(OLIST / "olist_closed_deals_dataset.csv", newline="", encoding="utf-8") as fh:
        deals = {r["mql_id"]: r for r in csv.DictReader(fh)}
    return mqls, deals


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.strip())


@pytest.fixture
def olist_store(store):
    """Every Olist MQL as a lead (source = origin as it comes, created at first contact, history
    entering `mql` then), closed deals moved to `customer` at their won date."""
    mqls, deals = olist_rows()
    leads, hist = [], []
    for i, m in enumerate(mqls, start=1):
        created = parse(m["first_contact_date"])
        deal = deals.get(m["mql_id"])
        leads.append({"id": i, "external_id": m["mql_id"], "source": m["origin"] or None, "created_at": created,
                      "updated_at": created, "stage": "customer" if deal else "mql", "score": i % 101})
        hist.append({"lead_id": i, "from_stage": None, "to_stage": "mql", "at": created, "cause": "import"})
        if deal:
            hist.append({"lead_id": i, "from_stage": "mql", "to_stage": "customer", "at": parse(deal["won_date"]),
                         "cause": "import"})
    with store.begin() as conn:
        conn.execute(Lead.__table__.insert(), leads)
        record_stage_changes(conn, hist, new_leads=True)
    if store.engine.dialect.name == "postgresql":  # explicit ids: move the sequence on
        with store.begin() as conn:
            conn.exec_driver_sql("SELECT setval('leads_id_seq', (SELECT max(id) FROM leads))")
    return store, mqls, deals


def pct_cont(values, q):
    """Independent percentile_cont: numpy's default 'linear' definition, written out."""
    xs = sorted(values)
    if not xs:
        return None
    h = (len(xs) - 1) * q
    lo = int(h // 1)
    return xs[lo] + (h - lo) * (xs[min(lo + 1, len(xs) - 1)] - xs[lo])
