"""Errors that name the problem: every file, folder and database failure a person can fix is one
line naming the file or URL with a hint, exit 1 — never "internal error … report it"."""
from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from leadctl.errors import OutputError, StoreError, os_error
from leadctl.store.db import open_store

from conftest import REPO, Run, free_port


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A project folder (database with one imported lead, default rules) as the working folder."""
    monkeypatch.chdir(tmp_path)
    for var in ("LEADCTL_DB", "LEADCTL_RULES", "LEADCTL_NOW", "LEADCTL_DEBUG", "LEADCTL_BUSY_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)
    shutil.copytree(REPO / "leadctl" / "default_rules", tmp_path / "rules")
    (tmp_path / "leads.csv").write_text("Email,Company\nana@example.com,Acme\n", encoding="utf-8")
    (tmp_path / "more.csv").write_text("Email,Company\nbo@example.com,Initech\n", encoding="utf-8")
    return tmp_path


@pytest.fixture
def cli(run_cli):
    """Run `leadctl …` through `main()`; no command here may end in an internal error."""
    def run(*args: str) -> Run:
        r = run_cli(*args)
        assert "internal error" not in r.err and "Traceback" not in r.err, r.err
        return r

    return run


@pytest.fixture
def project(folder, cli):
    r = cli("import", "leads.csv")
    assert r.code == 0, r.err
    return folder


def batches(path: Path) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT id, status FROM batches ORDER BY id").fetchall()
    finally:
        con.close()


# ---------------------------------------------------------------- files leadctl writes
@pytest.mark.parametrize("args, option", [
    (["export", "leads", "-o", "missing/x.csv"], "--output"),
    (["export", "leads", "--format", "json", "--output", "missing/x.json"], "--output"),
    (["report", "funnel", "--output", "missing/x.txt"], "--output"),
    (["report", "sources", "--format", "csv", "--output", "missing/x.csv"], "--output"),
    (["report", "owners", "--svg", "missing/x.svg"], "--svg"),
    (["report", "scoring", "--html", "missing/x.html"], "--html"),
    (["leads", "list", "--format", "csv"], None),  # control: works
], ids=lambda v: " ".join(v) if isinstance(v, list) else str(v))
def test_output_into_a_missing_folder(project, cli, args, option):
    r = cli(*args)
    if option is None:
        assert r.code == 0
        return
    path = args[args.index(option if option in args else "-o") + 1]
    assert r.code == 1
    assert r.err.splitlines() == [f"error: {option}: cannot write {path}: folder missing does not exist",
                                  "hint: create the folder or choose another path"]
    assert not (project / "missing").exists()


def test_output_that_is_a_folder(project, cli):
    (project / "out").mkdir()
    r = cli("export", "leads", "-o", "out")
    assert (r.code, r.err.splitlines()[0]) == (1, "error: --output: out is a folder, not a file")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["export", "leads", "-o", "/dev/full"],
                                  ["report", "funnel", "--format", "csv", "-o", "/dev/full"],
                                  ["report", "sources", "--svg", "/dev/full"]], ids=lambda a: " ".join(a[:2]))
def test_a_full_disk_is_named(project, cli, args):
    r = cli(*args)
    assert r.code == 1
    option = next(a for a in args if a in ("-o", "--svg"))
    assert r.err.splitlines() == [
        f"error: {'--output' if option == '-o' else option}: cannot write /dev/full: no space left on the disk",
        "hint: free some space and run the command again"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_output_without_permission(project, cli):
    (project / "locked").mkdir(mode=0o500)
    try:
        r = cli("export", "leads", "-o", "locked/x.csv")
    finally:
        (project / "locked").chmod(0o700)
    assert r.code == 1 and r.err.startswith("error: --output: cannot write locked/x.csv: permission denied\n")


def test_os_errors_anywhere_become_one_named_line():
    err = os_error(OSError(errno.ENOENT, "No such file or directory", "in/rules/x.yaml"))
    assert (err.message, err.hint) == ("in/rules/x.yaml: no such file or folder",
                                       "check the path; the folder in/rules must exist")
    err = os_error(OSError(errno.EACCES, "Permission denied", "r.csv"), action="write", option="--rejects",
                   cls=OutputError)
    # The fact, and apart from it the option it came from, shown first.
    assert isinstance(err, OutputError) and err.message == "cannot write r.csv: permission denied"
    assert err.option == "--rejects" and str(err) == "--rejects: cannot write r.csv: permission denied"
    err = os_error(OSError(errno.ENOSPC, "No space left on device"), action="write", path="big.csv")
    assert err.message == "cannot write big.csv: no space left on the disk"


# ---------------------------------------------------------------- the database
def test_importing_into_a_read_only_database(project, cli):
    before = batches(project / "leadctl.db")
    if os.geteuid() == 0:  # permissions do not stop root: open the file read-only instead
        db = "sqlite:///file:leadctl.db?mode=ro&uri=true"
        shown = db
    else:
        (project / "leadctl.db").chmod(0o400)
        db = shown = "leadctl.db"
    try:
        r = cli("--db", db, "import", "more.csv")
        listing = cli("--db", db, "leads", "list", "--format", "csv")
    finally:
        (project / "leadctl.db").chmod(0o600)
    assert r.code == 1
    assert r.err.splitlines() == [
        f"error: database {shown} is read-only",
        "hint: check the permissions of the file and its folder (SQLite also writes the -wal and -shm files "
        "beside it)"]
    assert listing.code == 0 and "ana@example.com" in listing.out  # reading still works
    assert batches(project / "leadctl.db") == before


@pytest.fixture
def write_lock(project):
    """Another process's open write transaction on the project's database."""
    con = sqlite3.connect(project / "leadctl.db", isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    yield con
    con.execute("ROLLBACK")
    con.close()


@pytest.mark.parametrize("args", [["import", "more.csv"], ["leads", "stage", "ana@example.com", "sql", "--force"],
                                  ["process"]], ids=lambda a: " ".join(a[:2]))
def test_a_database_locked_past_the_busy_timeout(project, cli, write_lock, monkeypatch, args):
    monkeypatch.setenv("LEADCTL_BUSY_TIMEOUT", "0.1")
    before = batches(project / "leadctl.db")
    r = cli(*args)
    assert r.code == 1
    assert r.err.splitlines() == [
        "error: database ./leadctl.db is locked by another process (waited 0.1 s)",
        "hint: another leadctl command is writing to it; run again when it has finished "
        "(LEADCTL_BUSY_TIMEOUT sets the wait, in seconds)"]
    write_lock.execute("ROLLBACK")
    write_lock.execute("BEGIN")  # the fixture's ROLLBACK ends this one
    assert batches(project / "leadctl.db") == before  # a locked import leaves no batch behind
    assert cli("leads", "list", "--format", "csv").out.count("@example.com") == 1


def test_busy_timeout_must_be_a_number(project, cli, monkeypatch):
    monkeypatch.setenv("LEADCTL_BUSY_TIMEOUT", "soon")
    r = cli("leads", "list")
    assert (r.code, r.err.splitlines()[0]) == (1, "error: LEADCTL_BUSY_TIMEOUT: 'soon' is not a number of seconds")


def test_a_damaged_database(project, cli):
    db = project / "leadctl.db"
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = bytearray(db.read_bytes())
    data[:16] = b"not sqlite here!"
    db.write_bytes(bytes(data))
    r = cli("leads", "list")
    assert r.code == 1
    assert r.err.splitlines() == ["error: ./leadctl.db is not a SQLite database, or it is damaged",
                                  "hint: pass --db with a leadctl database; restore a damaged one from a backup"]


def test_a_full_database_disk_mid_import_rolls_back_and_marks_the_batch_failed(tmp_path, monkeypatch):
    """SQLITE_FULL from the real engine (a page limit stands in for the disk) becomes a StoreError,
    the chunk written before it is taken back, and the batch is recorded as failed."""
    from sqlalchemy import event

    from leadctl.ingest import importer
    from leadctl.ingest.importer import ImportOptions, import_leads
    from leadctl.rules.loader import load_rules

    path = tmp_path / "leadctl.db"
    store = open_store(str(path))
    src = tmp_path / "big.csv"
    src.write_text("Email,Company,Notes\n" + "".join(f"p{i}@example.com,Co {i},{'x' * 3000}\n" for i in range(40)))
    monkeypatch.setattr(importer, "CHUNK", 10)
    limit = {"pages": None}

    @event.listens_for(store.engine, "begin")
    def _cap(conn):
        if limit["pages"]:
            conn.exec_driver_sql(f"PRAGMA max_page_count = {limit['pages']}")

    def after_chunk(_n):  # after the first chunk, leave room for little more than the batch row
        if limit["pages"] is None:
            con = sqlite3.connect(path)
            limit["pages"] = con.execute("PRAGMA page_count").fetchone()[0] + 2
            con.close()

    with pytest.raises(StoreError) as info:
        import_leads(store, [str(src)], ImportOptions(), load_rules(tmp_path), progress=after_chunk)
    assert info.value.message == f"cannot write database {path}: the disk is full"
    limit["pages"] = 0
    with store.connect() as conn:
        status = conn.exec_driver_sql("SELECT status FROM batches").fetchall()
        leads = conn.exec_driver_sql("SELECT count(*) FROM leads").scalar()
    store.dispose()
    assert status == [("failed",)]
    assert leads == 0


def test_postgresql_connection_refused_names_the_url_without_the_password(folder, cli):
    pytest.importorskip("psycopg")
    url = f"postgresql+psycopg://sales:s3cret@127.0.0.1:{free_port()}/leads"
    r = cli("--db", url, "leads", "list")
    assert r.code == 1
    first, hint = r.err.splitlines()
    assert first.startswith("error: cannot reach database postgresql+psycopg://sales:***@127.0.0.1:")
    assert "s3cret" not in r.err
    assert hint == ("hint: check that the server is running and that the host, port, user and database in --db "
                    "are right")


def test_a_real_bug_is_still_an_internal_error(project, capsys, monkeypatch):
    from leadctl.cli import app as app_module

    def broken(*_a, **_k):
        raise KeyError("x")

    monkeypatch.setattr(app_module, "app", broken)
    with pytest.raises(SystemExit) as info:
        app_module.main(["leads", "list"])
    assert info.value.code == 1
    assert capsys.readouterr().err.startswith("error: internal error (KeyError)")


def _core_refusals():
    from leadctl.ingest.options import parse_match
    from leadctl.model.fit import FitOptions
    from leadctl.notify import SmtpTarget
    from leadctl.reports.attribution import parse_half_life
    from leadctl.reports.common import cohort_column
    from leadctl.reports.scoring import scoring_report

    return [
        ("--match", lambda: parse_match("emial")),
        ("--holdout", lambda: FitOptions(holdout=1.5).check()),
        ("--bins", lambda: FitOptions(bins=1).check()),
        ("--half-life", lambda: parse_half_life("0d")),
        ("--smtp", lambda: SmtpTarget.parse("http://example.com")),
        ("--by", lambda: cohort_column("day")),
        ("--bands", lambda: scoring_report(None, [], None, bands=0)),
    ]


@pytest.mark.parametrize("option, refuse", _core_refusals(), ids=lambda v: v if isinstance(v, str) else "")
def test_core_errors_state_the_fact_and_carry_the_option(option, refuse):
    from leadctl.errors import UsageError

    with pytest.raises(UsageError) as err:
        refuse()
    assert err.value.option == option
    assert "--" not in err.value.message            # the fact, not the flag
    assert err.value.describe().startswith(f"{option}: ")  # the command line reads as before
