"""Lead data is printed, never interpreted: Rich markup and terminal escapes stay inert."""
from __future__ import annotations

import shutil

from conftest import REPO


def test_markup_and_escape_sequences_in_lead_data(tmp_path, db_url, run_cli):
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "leadctl" / "default_rules", rules)
    src = tmp_path / "m.csv"
    src.write_text('Email,Company,First Name\na@example.com,[/x] Evil,[bold]Bob\n'
                   'b@example.com,"\x1b[31mred\u202e",Eve\n', encoding="utf-8")
    base = ["--db", db_url, "--rules", str(rules), "--now", "2026-11-20T10:00"]
    assert run_cli(*base, "import", src).code == 0
    for args in (["leads", "list"], ["leads", "show", "a@example.com"], ["leads", "explain", "a@example.com"],
                 ["leads", "show", "b@example.com"], ["report", "sources"]):
        result = run_cli(*base, *args)
        assert result.exit_code == 0, (args, result.output)
        assert "\x1b" not in result.output and "\u202e" not in result.output
    listing = run_cli(*base, "leads", "list").out
    assert "[/x] Evil" in listing and "[bold]Bob" in listing
