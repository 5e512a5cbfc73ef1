"""The README's command reference is checked against the real `--help`, so it cannot drift."""
from __future__ import annotations

import re

import pytest

from conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
REFERENCE = README.split("<!-- commands")[1].split("<!-- /commands -->")[0]
GROUPS = {"batches", "leads", "activity", "rules", "owners", "followups", "report", "export", "model"}


def _commands() -> list[tuple[list[str], list[str]]]:
    """(command words, options) for every command named in the reference."""
    out = []
    text = re.sub(r"\n\s{10,}", " ", REFERENCE)  # join continuation lines
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("leadctl "):
            continue
        group = None
        for part in line[len("leadctl "):].split(" | "):
            words = part.split()
            if words and words[0] in GROUPS | {"init", "import", "process"}:
                if words[0] in GROUPS:
                    group = words[0]
                    words = words[1:]
                    cmd_words = [group]
                else:
                    group = None
                    cmd_words = []
            else:
                cmd_words = [group] if group else []
            names = []
            for w in words:
                if w.startswith(("[", "-")) or w.isupper() or w.endswith("...") or w.startswith("FILE"):
                    break
                names.append(w)
            for name in (names[0].split("|") if names else [None]):
                cmd = cmd_words + ([name] if name else [])
                if cmd == ["batches", "[list]"]:
                    cmd = ["batches", "list"]
                options = re.findall(r"--[a-z][a-z-]*", part)
                out.append((cmd, options))
    return out


COMMANDS = _commands()


def test_reference_names_every_command_group():
    named = {tuple(c[:1]) for c, _ in COMMANDS}
    assert {(g,) for g in GROUPS} <= named


@pytest.mark.parametrize("cmd,options", COMMANDS, ids=[" ".join(c) for c, _ in COMMANDS])
def test_reference_matches_help(cmd, options, run_cli):
    result = run_cli(*cmd, "--help", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for option in options:
        if option == "--help":
            continue
        assert option in result.output, f"`leadctl {' '.join(cmd)}` has no {option}"
