"""The start-up path of the reports (cli.fast + reports.lite) prints what the ordinary path prints.

Both run over one SQLite store with the default rules (aliases, costs, won and lost stages)
and leads made to trip the details: sources spelled with spaces, case and aliases, blank and
missing; stage names in a lead's history only; activities before creation; owners without
leads, leads without owners. SQLite only: the start-up path reads SQLite stores only.
"""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from .conftest import add_activity, add_assignment, add_breach, add_lead, add_owner

REPO = Path(__file__).resolve().parents[2]
D = datetime(2026, 2, 2, 9, 0)
NOW = "2026-03-01T12:00"


@pytest.fixture
def fast_setup(store, db_url, tmp_path, monkeypatch, run_cli):
    """(run, taken): `run(*args)` runs `leadctl --db … --rules … --now … *args`; `taken` records
    whether each run took the start-up path."""
    from leadctl.cli import fast

    if "://" in db_url:
        pytest.skip("the start-up path reads SQLite stores only")
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "leadctl" / "default_rules", rules)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with store.begin() as conn:
        add_owner(conn, "dana", team="emea", capacity=4)
        add_owner(conn, "idle", capacity=10)
        spellings = ["Google Ads", "  google ", "PPC", "webinar", "Webinar ", "", None, "Trade show",
                     "unknown fair", "Unknown Fair", "li", "referral"]
        for i, source in enumerate(spellings * 3):
            owner = ("dana", "lee", None)[i % 3]
            created = D + timedelta(days=i % 20, hours=i)
            history = [("new", created)]
            if i % 2:
                history.append(("mql", created + timedelta(days=1, hours=i % 7)))
            if i % 4 == 1:
                history.append(("sql", created + timedelta(days=3)))
            if i % 8 == 1:
                history.append(("customer", created + timedelta(days=9)))
            if i % 5 == 0:
                history.append(("lost", created + timedelta(days=4)))
            lead = add_lead(conn, source=source, owner=owner, created_at=created, score=(i * 7) % 101,
                            history=history,
                            last_contacted_at=created + timedelta(hours=2 + i % 5) if i % 3 == 0 else None)
            if owner:
                add_assignment(conn, lead, owner, created)
            if i % 4 == 0:
                add_activity(conn, lead, "call", created + timedelta(minutes=37 * i))
            if i % 6 == 0:
                add_activity(conn, lead, "email", created - timedelta(hours=1))   # before creation: left out
            if i % 9 == 0:
                add_breach(conn, lead, owner, created + timedelta(hours=5))
        add_lead(conn, source="Referral", owner="dana", created_at=D, stage="customer")  # won without history
        # A stage found in the history in another case (LIKE ignores ASCII case); non-ASCII case is kept.
        add_lead(conn, source=" ÄRZTE ", created_at=D, stage="new",
                 history=[("new", D), ("MQL", D + timedelta(days=1))])
        add_lead(conn, source="ärzte", created_at=D, stage="new", history=[("new", D), ("Customer", D)])
    taken: list[bool] = []
    real = fast.run
    monkeypatch.setattr(fast, "run", lambda argv: taken.append(real(argv)) or taken[-1])
    env = {"LEADCTL_WIDTH": "160", "NO_COLOR": "1"}

    def run(*args, cached: bool = True):
        res = run_cli("--db", db_url, "--rules", rules, "--now", NOW, *args,
                      env={**env, "LEADCTL_RULES_CACHE": None if cached else "0"})
        return res.code, res.out, res.err

    run("rules", "check")   # fills the rules cache
    return run, taken


@pytest.mark.parametrize("report", ["funnel", "sources", "owners"])
@pytest.mark.parametrize("args", [("--format", "json"), ("--format", "csv"), (), ("--format=csv", "--totals")])
def test_a_report_on_the_start_up_path_is_byte_identical(fast_setup, report, args):
    run, taken = fast_setup
    ordinary = run("report", report, *args, cached=False)
    fast = run("report", report, *args)
    assert taken[-2:] == [False, True]
    assert ordinary[0] == 0 and fast == ordinary


@pytest.mark.parametrize("args", [("--since", "2026-02-10"), ("--source", "Webinar"), ("--by", "month"),
                                  ("--strict",), ("--format", "xml"), ("--help",)])
def test_anything_else_takes_the_ordinary_path(fast_setup, args):
    run, taken = fast_setup
    run("report", "funnel", *args)
    assert taken[-1] is False


def test_written_to_a_file_the_same(fast_setup, tmp_path):
    run, taken = fast_setup
    run("report", "sources", "--format", "json", "--output", str(tmp_path / "a.json"), cached=False)
    run("report", "sources", "--format", "json", "--output", str(tmp_path / "b.json"))
    assert taken[-1] is True
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
