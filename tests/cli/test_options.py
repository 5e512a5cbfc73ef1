"""Options mean one thing everywhere: `--limit 0` is "all", and errors name the option that was used."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import pytest
from sqlalchemy import insert

from leadctl.clock import parse_now
from leadctl.engine.leadquery import LeadFilter, select_leads
from leadctl.errors import UsageError
from leadctl.store.models import Lead

D = datetime(2026, 1, 10, 9, 0)
N = 60  # more than the 50 rows a table shows by default


@pytest.fixture
def leads(store, db_url):
    with store.begin() as conn:
        conn.execute(insert(Lead.__table__), [dict(email=f"p{i}@example.com", created_at=D, updated_at=D)
                                              for i in range(N)])
    return db_url


@pytest.fixture
def run(run_cli):
    """`run(db_url, "leads", "list", …)`: `leadctl --db … leads list …` through `main()`."""
    return lambda db_url, *args, env=None: run_cli("--db", db_url, *args, env=env)


def test_leads_list_limit_0_is_all(leads, run):
    table = run(leads, "leads", "list", "--limit", "0")
    assert table.exit_code == 0, table.output
    assert f"{N} leads" in table.stdout and "showing" not in table.stderr
    default = run(leads, "leads", "list")
    assert "50 leads" in default.stdout
    assert f"showing 50 of {N} leads; use --limit N (0 = all) or --format csv for more" in default.stderr
    as_json = run(leads, "leads", "list", "--format", "json", "--limit", "0")
    assert len(json.loads(as_json.stdout)) == N
    assert len(json.loads(run(leads, "leads", "list", "--format", "json", "--limit", "3").stdout)) == 3


def test_export_limit_0_is_all(leads, run):
    rows = list(csv.reader(io.StringIO(run(leads, "export", "leads", "--limit", "0").stdout)))
    assert len(rows) == N + 1
    rows = list(csv.reader(io.StringIO(run(leads, "export", "leads", "--limit", "2").stdout)))
    assert len(rows) == 3


def test_followups_due_limit_0_is_all(leads, run):
    r = run(leads, "followups", "due", "--limit", "0", "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == []


@pytest.mark.parametrize("args", [["leads", "list"], ["export", "leads"], ["followups", "due"]],
                         ids=lambda a: " ".join(a))
def test_a_negative_limit_is_a_usage_error_naming_limit(leads, args, run):
    r = run(leads, *args, "--limit", "-1")
    assert r.exit_code == 2
    assert "--limit" in r.output


def test_the_core_limit_means_the_same():
    assert "LIMIT" not in str(select_leads(LeadFilter(limit=0)))
    assert "LIMIT" in str(select_leads(LeadFilter(limit=5)))
    with pytest.raises(UsageError) as info:
        select_leads(LeadFilter(limit=-2))
    assert info.value.message == "limit must be 0 (all) or more, not -2"


def test_the_clock_names_where_its_value_came_from(leads, run):
    r = run(leads, "--now", "tomorrowish", "process")
    assert r.exit_code == 2 and "--now: cannot read 'tomorrowish'" in r.output
    r = run(leads, "process", env={"LEADCTL_NOW": "tomorrowish"})
    assert r.exit_code == 2 and "LEADCTL_NOW: cannot read 'tomorrowish'" in r.output and "--now" not in r.output


def test_shared_time_parsing_states_the_fact_and_carries_the_option_apart():
    with pytest.raises(UsageError) as info:
        parse_now("yesterdayish")
    assert info.value.message == "cannot read 'yesterdayish' as a date and time" and info.value.option is None
    with pytest.raises(UsageError) as info:
        parse_now("yesterdayish", option="--at")
    assert info.value.message == "cannot read 'yesterdayish' as a date and time"
    assert info.value.describe() == "--at: cannot read 'yesterdayish' as a date and time"


def test_core_errors_name_no_command_line_flag(leads, run):
    from leadctl.engine.leadquery import sort_column
    from leadctl.ingest.activities import parse_when
    from leadctl.setup import parse_region

    for call in (lambda: sort_column("colour"), lambda: parse_region("XX"),
                 lambda: parse_when("someday", datetime(2026, 11, 20))):
        with pytest.raises(UsageError) as info:
            call()
        assert "--" not in info.value.describe()
    r = run(leads, "leads", "list", "--sort", "colour")  # the command line names the option
    assert r.exit_code == 2 and r.err.startswith("error: --sort: cannot sort by 'colour': no such field")


def test_activity_log_at_names_at_not_now(leads, run):
    r = run(leads, "activity", "log", "p1@example.com", "call", "--at", "someday", "--no-process")
    assert r.exit_code == 2
    assert "--at" in r.output and "--now" not in r.output


@pytest.mark.parametrize("option, value, says", [
    ("--encoding", "klingon", "--encoding: unknown encoding 'klingon'"),
    ("--delimiter", ";;", "--delimiter: bad delimiter ';;'"),
    ("--format", "xml", "--format: unknown input format 'xml'"),
    ("--map", "Email=emial", "--map: unknown field 'emial'"),
    ("--match", "emial", "--match: 'emial' is not a match key"),
    ("--mode", "merge", "--mode: 'merge' is not one of"),
])
def test_a_failed_usage_check_leaves_no_batch(leads, tmp_path, option, value, says, run):
    src = tmp_path / "in.csv"
    src.write_text("Email\nnew@example.com\n")
    rules = tmp_path / "no-rules"
    rules.mkdir()
    r = run(leads, "--rules", str(rules), "import", str(src), option, value)
    assert r.exit_code == 2, r.output
    assert says in r.output
    listed = run(leads, "batches", "--format", "json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == []


def test_a_rejects_file_in_a_missing_folder_is_refused_before_the_batch(leads, tmp_path, run):
    src = tmp_path / "in.csv"
    src.write_text("Email\nnot-an-email\n")
    rules = tmp_path / "no-rules"
    rules.mkdir()
    r = run(leads, "--rules", str(rules), "import", str(src), "--rejects", str(tmp_path / "gone" / "r.csv"))
    assert r.exit_code == 1
    assert f"--rejects: cannot write {tmp_path}/gone/r.csv: folder {tmp_path}/gone does not exist" in r.output
    assert json.loads(run(leads, "batches", "--format", "json").stdout) == []
