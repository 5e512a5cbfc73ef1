"""Hostile rule files end to end: a catastrophic regex cannot hang `leadctl process`, and a
YAML bomb is refused by `leadctl rules check`."""
from __future__ import annotations

import time


def _evil_rule(rules_dir, pattern: str) -> None:
    (rules_dir / "scoring.yaml").write_text(
        "version: 1\n"
        "fit:\n"
        "  rules:\n"
        "    - name: Evil title\n"
        f"      when: {{title: {{matches: '{pattern}'}}}}\n"
        "      points: 5\n", encoding="utf-8")


def test_catastrophic_regex_cannot_hang_process(tmp_path, cli, rules_dir):
    src = tmp_path / "in.csv"
    src.write_text("Email,Title\nslow@example.com," + "a" * 60 + "!\n", encoding="utf-8")
    assert cli("import", str(src), "--no-process").code == 0

    # (a+)+$ — the regex engine sees through this one: it finishes at once and does not match
    _evil_rule(rules_dir, "(a+)+$")
    t0 = time.monotonic()
    r = cli("process")
    assert time.monotonic() - t0 < 30 and r.code == 0, r.err

    # ^(a|aa)+$ backtracks exponentially: the regex timeout stops it and names the rule
    _evil_rule(rules_dir, "^(a|aa)+$")
    t0 = time.monotonic()
    r = cli("process")
    assert time.monotonic() - t0 < 60
    assert r.code in (1, 2), (r.out, r.err)
    first = r.err.splitlines()[0]
    assert first.startswith("error: ") and "Evil title" in first and "catastrophic backtracking" in first, r.err
    assert "Traceback" not in r.err


def test_yaml_bomb_is_refused_by_rules_check(tmp_path, cli, rules_dir):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    (rules_dir / "scoring.yaml").write_text("version: 1\n" + "\n".join(lines) + "\n", encoding="utf-8")
    t0 = time.monotonic()
    r = cli("rules", "check")
    assert time.monotonic() - t0 < 30
    assert r.code == 2, (r.out, r.err)
    assert "scoring.yaml" in r.out and "aliases are not allowed" in r.out, r.out
    assert "Traceback" not in r.err
