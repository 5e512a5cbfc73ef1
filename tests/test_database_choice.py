"""The right database or none: a wrong folder or --db is refused before anything is written."""
from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from leadctl.errors import StoreError
from leadctl.store.db import open_store

from conftest import REPO

MISSING = "error: no leadctl database at ./leadctl.db — run `leadctl init` or pass --db\n"

# Every command that reads or changes existing leads, with the arguments it needs.
READ_COMMANDS = [
    ["leads", "list"], ["leads", "list", "--format", "json"], ["leads", "show", "1"], ["leads", "explain", "1"],
    ["leads", "stage", "1", "mql"], ["leads", "assign", "1", "dana"], ["leads", "merge", "1", "2"],
    ["leads", "forget", "1", "--yes"], ["batches"], ["batches", "show", "1"], ["batches", "undo", "1", "--yes"],
    ["process"], ["owners", "list"], ["followups", "due"], ["followups", "remind"], ["followups", "done", "1"],
    ["followups", "snooze", "1", "1d"], ["report", "funnel"], ["report", "sources"], ["report", "owners"],
    ["report", "scoring"], ["export", "leads"], ["rules", "diff", "rules"],
]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """An empty working folder with the default rules, and no database settings from outside."""
    monkeypatch.chdir(tmp_path)
    for var in ("LEADCTL_DB", "LEADCTL_RULES", "LEADCTL_NOW"):
        monkeypatch.delenv(var, raising=False)
    shutil.copytree(REPO / "leadctl" / "default_rules", tmp_path / "rules")
    (tmp_path / "leads.csv").write_text("Email,Company\nana@example.com,Acme\n", encoding="utf-8")
    return tmp_path


@pytest.fixture
def cli(run_cli):
    """Run `leadctl …` through `main()`."""
    return run_cli


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def foreign_db(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    con.execute("INSERT INTO invoices (total) VALUES (12.5)")
    con.commit()
    con.close()
    return path


def names_in(path: Path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    finally:
        con.close()


@pytest.mark.parametrize("args", READ_COMMANDS, ids=lambda a: " ".join(a))
def test_read_commands_refuse_a_folder_without_a_database(folder, cli, args):
    r = cli(*args)
    assert (r.code, r.err, r.out) == (1, MISSING, "")
    assert not (folder / "leadctl.db").exists()


def test_the_message_names_the_db_that_was_passed(folder, cli):
    r = cli("--db", "elsewhere/crm.db", "report", "funnel")
    assert r.code == 1
    assert r.err == "error: no leadctl database at elsewhere/crm.db — run `leadctl init` or pass --db\n"


@pytest.mark.parametrize("args", [["init"], ["import", "leads.csv"]], ids=lambda a: a[0])
def test_init_and_import_create_the_database(folder, cli, args):
    r = cli(*args)
    assert r.code == 0, r.err
    assert "meta" in names_in(folder / "leadctl.db")
    assert cli("leads", "list", "--format", "json").code == 0


def test_activity_log_may_create_the_database(folder, cli):
    cli("activity", "log", "ana@example.com", "call")
    assert "meta" in names_in(folder / "leadctl.db")  # created; the lead itself is not there yet


def test_an_empty_file_is_a_new_database_for_init_and_import_only(folder, cli):
    (folder / "leadctl.db").touch()
    r = cli("leads", "list")
    assert r.code == 1
    assert r.err == ("error: no leadctl database at ./leadctl.db (the file is empty) — run `leadctl init` "
                     "or pass --db\n")
    assert (folder / "leadctl.db").stat().st_size == 0
    assert cli("import", "leads.csv").code == 0
    assert cli("leads", "list", "--format", "json").out.count("ana@example.com") == 1


@pytest.mark.parametrize("args", [*READ_COMMANDS, ["init"], ["import", "leads.csv"],
                                  ["activity", "log", "1", "call"], ["activity", "import", "leads.csv"]],
                         ids=lambda a: " ".join(a))
def test_someone_elses_sqlite_file_is_refused_by_every_command_and_left_as_it_was(folder, cli, args):
    db = foreign_db(folder / "other.db")
    before = digest(db)
    r = cli("--db", "other.db", *args)
    assert r.code == 1
    assert r.err.splitlines() == [
        "error: other.db is not a leadctl database: it holds other tables (invoices)",
        "hint: leadctl writes nothing to it; pass --db with a leadctl database or a new file name",
    ]
    assert digest(db) == before
    assert names_in(db) == {"invoices"}
    assert not (folder / "other.db-wal").exists()


def test_a_file_that_is_not_sqlite_is_named(folder, cli):
    (folder / "notes.db").write_bytes(b"these are my notes, not a database\n" * 200)
    before = digest(folder / "notes.db")
    for args in (["leads", "list"], ["import", "leads.csv"]):
        r = cli("--db", "notes.db", *args)
        assert r.code == 1
        assert r.err.splitlines()[0] == "error: notes.db is not a SQLite database, or it is damaged"
    assert digest(folder / "notes.db") == before


def test_a_folder_given_as_db(folder, cli):
    (folder / "data").mkdir()
    r = cli("--db", "data", "import", "leads.csv")
    assert r.code == 1 and r.err.startswith("error: data is a folder, not a database file\n")


def test_a_missing_folder_for_a_new_database(folder, cli):
    r = cli("--db", "nowhere/leadctl.db", "import", "leads.csv")
    assert r.code == 1
    assert r.err.splitlines() == ["error: cannot create database nowhere/leadctl.db: folder nowhere does not exist",
                                  "hint: create the folder or pass another --db"]


def test_open_store_refuses_without_create_and_keeps_creating_by_default(tmp_path):
    path = tmp_path / "x.db"
    with pytest.raises(StoreError) as info:
        open_store(str(path), create=False)
    assert "no leadctl database at" in info.value.message and not path.exists()
    open_store(str(path)).dispose()
    open_store(str(path), create=False).dispose()  # now it is a leadctl database


def test_a_meta_table_of_another_application_is_not_a_leadctl_schema(tmp_path):
    path = tmp_path / "x.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE meta (name TEXT, content TEXT)")
    con.commit()
    con.close()
    with pytest.raises(StoreError) as info:
        open_store(str(path))
    assert info.value.message == f"{path} is not a leadctl database: it holds other tables (meta)"
    assert names_in(path) == {"meta"}
