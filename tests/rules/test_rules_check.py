"""`leadctl rules check`: every problem of every file in one run, as text or JSON."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from leadctl.errors import RulesError
from leadctl.rules import DEFAULT_RULES_DIR
from leadctl.rules.loader import check_rules, load_rules

ROOT = Path(__file__).resolve().parents[2]
BAD = ROOT / "tests" / "data" / "rules" / "bad"


@pytest.fixture
def check(run_cli):
    """`leadctl rules check …` through `main()`."""
    return lambda *args: run_cli("rules", "check", *args)


def copy_case(case: str, tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    for f in (BAD / case).iterdir():
        if f.name != "expected.txt":
            shutil.copy(f, folder / f.name)
    return folder


def test_schema_errors_and_references_of_every_file_come_in_one_run(tmp_path, monkeypatch, check):
    copy_case("several_levels", tmp_path)
    monkeypatch.chdir(tmp_path)
    result = check("rules")
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines == (BAD / "several_levels" / "expected.txt").read_text().splitlines()
    # schema errors and cross-file references side by side, file by file, line by line
    assert any("kind must be" in x for x in lines) and any("unknown stage 'custmer'" in x for x in lines)
    assert any("unknown owner 'dnaa'" in x for x in lines) and any("unknown team 'emae'" in x for x in lines)
    assert any("unknown source 'Partnr'" in x for x in lines)
    files = [x.split(":")[0] for x in lines]
    order = ["rules/stages.yaml", "rules/scoring.yaml", "rules/qualification.yaml", "rules/routing.yaml",
             "rules/followups.yaml"]
    assert files == sorted(files, key=order.index)
    for f in order:
        numbers = [int(x.split(":")[1]) for x in lines if x.startswith(f + ":")]
        assert numbers == sorted(numbers)


def test_json_lists_file_line_message_and_hint(tmp_path, monkeypatch, check):
    copy_case("several_levels", tmp_path)
    monkeypatch.chdir(tmp_path)
    result = check("rules", "--format", "json")
    assert result.exit_code == 2
    problems = json.loads(result.stdout)
    expected = (BAD / "several_levels" / "expected.txt").read_text().splitlines()
    assert len(problems) == len(expected)
    assert all(set(p) == {"file", "line", "message", "hint"} for p in problems)
    assert [f"{p['file']}:{p['line']}: {p['message']}" for p in problems] == expected
    stage = next(p for p in problems if "unknown stage 'custmer'" in p["message"])
    assert stage["file"] == "rules/scoring.yaml" and stage["line"] == 7
    assert stage["hint"] == "known stages: new, mql, sql, customer, lost"


def test_good_rules_give_an_empty_json_list_and_exit_0(tmp_path, check):
    shutil.copytree(DEFAULT_RULES_DIR, tmp_path / "rules")
    result = check(str(tmp_path / "rules"), "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []
    text = check(str(tmp_path / "rules"))
    assert text.exit_code == 0 and "7 stages" in text.stdout


ENRICHMENT = """version: 1
lookups:
  - file: company-data.csv
    key: Domain
    fields:
      industry: {column}
"""


@pytest.mark.parametrize("column, table, expected", [
    ("Industry", "Domain,Industry\nacme.com,Software\n", None),
    ("Sector", "Domain,Industry\nacme.com,Software\n", "rules/enrichment.yaml:3: company-data.csv: no column 'Sector'"),
    ("Industry", None, "rules/enrichment.yaml:3: company-data.csv: cannot read it"),
])
def test_enrichment_yaml_and_its_tables_are_checked_with_the_other_files(tmp_path, monkeypatch, check,
                                                                          column, table, expected):
    folder = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, folder)
    (folder / "enrichment.yaml").write_text(ENRICHMENT.format(column=column))
    if table is not None:
        (folder / "company-data.csv").write_text(table)
    # A mistake in another file is listed too, not hidden by the enrichment one (or the other way round).
    scoring = folder / "scoring.yaml"
    scoring.write_text(scoring.read_text().replace("employees: {gte: 200}", "employes: {gte: 200}", 1))
    monkeypatch.chdir(tmp_path)
    result = check("rules", "--format", "json")
    assert result.exit_code == 2
    shown = [f"{p['file']}:{p['line']}: {p['message']}" for p in json.loads(result.stdout)]
    assert any(s.startswith("rules/scoring.yaml:19:") and "employes" in s for s in shown)
    enrichment = [s for s in shown if "enrichment.yaml" in s]
    assert enrichment == ([] if expected is None else [next(s for s in enrichment if s.startswith(expected))])


@pytest.mark.parametrize("extra", [None, "README.md"])
def test_a_folder_without_rule_files_is_an_error(tmp_path, extra, check):
    folder = tmp_path / "rules"
    folder.mkdir()
    if extra:
        (folder / extra).write_text("notes\n")
    result = check(str(folder))
    assert result.exit_code == 2
    assert "no rule files in this folder" in result.stdout
    with pytest.raises(RulesError):
        check_rules(folder)
    load_rules(folder)  # other commands still read a folder without rules as "no rules of that kind"


def test_unreadable_file_does_not_hide_references_elsewhere(tmp_path):
    folder = copy_case("unreadable_file_and_references", tmp_path)
    with pytest.raises(RulesError) as info:
        check_rules(folder)
    messages = [p.message for p in info.value.problems]
    assert any("unknown stage 'oportunity'" in m for m in messages)
    assert any("YAML syntax error" in m for m in messages)
    # routing.yaml cannot be read, so owner names are not known: nothing is reported against them
    assert not any("unknown owner" in m for m in messages)


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def test_owner_and_team_conditions_need_a_roster_and_accept_the_fallback_queue(tmp_path):
    write(tmp_path, "scoring.yaml", "fit:\n  rules:\n    - {name: Queue, when: {owner: queue}, points: 1}\n"
                                    "    - {name: Team, when: {team: EMEA}, points: 1}\n"
                                    "    - {name: By mail, when: {owner: DANA@example.com}, points: 1}\n")
    load_rules(tmp_path)  # no routing.yaml: owners may come from imports, nothing to check against
    write(tmp_path, "routing.yaml", "owners: [{name: dana, email: dana@example.com, team: emea}]\n"
                                    "fallback: {owner: queue}\n")
    load_rules(tmp_path)
    write(tmp_path, "routing.yaml", "owners: [{name: dana, team: apac}]\n")
    with pytest.raises(RulesError) as info:
        load_rules(tmp_path)
    assert [p.message for p in info.value.problems] == [
        "rule 'Queue': unknown owner 'queue'",
        "rule 'Team': unknown team 'EMEA'",
        "rule 'By mail': unknown owner 'DANA@example.com'",
    ]


def test_a_source_alias_in_a_condition_is_reported_with_the_name_to_write(tmp_path):
    write(tmp_path, "sources.yaml", "sources: [{name: Google Ads, aliases: [google]}]\n")
    write(tmp_path, "routing.yaml", "owners: [{name: dana}]\nrules:\n"
                                    "  - {name: Ads, when: {source: GOOGLE}, assign: {owner: dana}}\n"
                                    "  - {name: Ads2, when: {source: google ads}, assign: {owner: dana}}\n")
    with pytest.raises(RulesError) as info:
        load_rules(tmp_path)
    assert [str(p) for p in info.value.problems] == [
        f"{tmp_path}/routing.yaml:3: rule 'Ads': source 'GOOGLE' is an alias of 'Google Ads' "
        "(leads are stored under the name; write 'Google Ads')"]
