"""The documents in docs/ are checked against the code, so their examples cannot rot:
rule-file examples load, mapping examples load, command lines name real commands and
options, every command and option is documented, and the package map names real files."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest
import typer.main
import yaml
from typer.testing import CliRunner

from leadctl.cli.app import app
from leadctl.ingest.headers import load_mapping
from leadctl.rules.conditions import compile_condition
from leadctl.rules.loader import load_rules

from conftest import REPO

DOCS = REPO / "docs"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
CLI = typer.main.get_command(app)


def _read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _blocks(name: str, lang: str) -> list[tuple[int, str]]:
    """(line number, text) of each fenced block of that language."""
    text = _read(name)
    return [(text[:m.start()].count("\n") + 1, m.group(2)) for m in FENCE.finditer(text) if m.group(1) == lang]


RULE_BLOCKS = _blocks("rules.md", "yaml")


def test_rules_doc_has_an_example_of_every_file():
    named = {block.splitlines()[0] for _, block in RULE_BLOCKS}
    for name in ("stages", "scoring", "qualification", "routing", "followups", "sources"):
        assert f"# rules/{name}.yaml" in named
    assert "# map.yaml" in named


@pytest.mark.parametrize("line,block", RULE_BLOCKS, ids=[f"rules.md:{n}" for n, _ in RULE_BLOCKS])
def test_rules_doc_example_loads(tmp_path, line, block):
    first = block.splitlines()[0]
    if m := re.fullmatch(r"# rules/(\w+\.yaml)", first):
        folder = tmp_path / "rules"
        folder.mkdir()
        (folder / m.group(1)).write_text(block, encoding="utf-8")
        rules = load_rules(folder)  # raises RulesError, naming file and line, on any problem
        assert rules.files_loaded == (m.group(1),)
    elif first == "# map.yaml":
        path = tmp_path / "map.yaml"
        path.write_text(block, encoding="utf-8")
        spec = load_mapping(str(path))
        assert spec.columns or spec.aliases
    elif first.startswith("# conditions"):
        chunks = re.split(r"^(?=when:)", block, flags=re.MULTILINE)
        examples = [c for c in chunks if c.startswith("when:")]
        assert examples
        for chunk in examples:
            problems: list = []
            spec = yaml.safe_load(chunk)["when"]
            compile_condition(spec, problems=problems, file="docs/rules.md", label=chunk.split("#")[0].strip())
            assert problems == [], f"docs/rules.md:{line}: {chunk.strip()}: {problems}"
    else:
        pytest.fail(f"docs/rules.md:{line}: a yaml example starts with `# rules/<file>.yaml`, "
                    f"`# map.yaml` or `# conditions`, got {first!r}")


MAPPING_BLOCKS = _blocks("mapping.md", "yaml")


def test_mapping_doc_has_examples():
    assert len(MAPPING_BLOCKS) >= 3


@pytest.mark.parametrize("line,block", MAPPING_BLOCKS, ids=[f"mapping.md:{n}" for n, _ in MAPPING_BLOCKS])
def test_mapping_doc_example_loads(tmp_path, line, block):
    path = tmp_path / "map.yaml"
    path.write_text(block, encoding="utf-8")
    if block.startswith("# activity mapping"):  # an events file's targets (type, at, note …)
        from leadctl.ingest.activities import TARGETS

        spec = load_mapping(str(path), fields=TARGETS)
    else:
        spec = load_mapping(str(path))  # raises UsageError, naming file and line, on any mistake
    assert spec.columns or spec.aliases or spec.defaults or spec.match


# ---------------------------------------------------------------- commands.md

def _is_group(cmd) -> bool:
    return hasattr(cmd, "commands")  # Typer may bring its own click: no isinstance


def _leaves(group, words: tuple[str, ...] = ()) -> dict:
    out: dict = {}
    for name, cmd in group.commands.items():
        if _is_group(cmd):
            out.update(_leaves(cmd, words + (name,)))
        else:
            out[words + (name,)] = cmd
    return out


LEAVES = _leaves(CLI)
GLOBAL_OPTIONS = {o for p in CLI.params for o in p.opts}


def _help(words: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def _command_lines(text: str) -> list[tuple[int, str]]:
    """Every `leadctl …` line inside code (fenced blocks and indented blocks), continuation lines joined."""
    out = []
    lines = text.splitlines()
    in_fence = False
    for i, raw in enumerate(lines):
        if raw.startswith("```"):
            in_fence = not in_fence
            continue
        if not (in_fence or raw.startswith("    ")):
            continue
        stripped = raw.strip()
        stripped = stripped.removeprefix("$ ")
        if not stripped.startswith("leadctl "):
            continue
        line = stripped
        j = i + 1
        while j < len(lines) and re.match(r"\s{10,}\[", lines[j]):  # a synopsis continued on the next line
            line += " " + lines[j].strip()
            j += 1
        out.append((i + 1, line.split("  #")[0]))
    return out


def _walk(node, path: tuple[str, ...], tokens: list[str]):
    """Follow command names from `node` as far as they go."""
    for t in tokens:
        name = t.strip("[]")
        if not _is_group(node) or name not in node.commands:
            break
        node, path = node.commands[name], path + (name,)
    return node, path


def _resolve(line: str) -> list[tuple[tuple[str, ...], list[str]]]:
    """(command words, options) for each command a line names (`a | b` names two)."""
    words = line.split()[1:]
    options: list[str] = []
    while words and words[0].startswith("--"):  # global options before the command
        opt = words.pop(0)
        options.append(opt.split("=")[0])
        if opt in ("--db", "--rules", "--now") and words:
            words.pop(0)
    out = []
    group: tuple[str, ...] = ()
    for part in " ".join(words).split(" | "):
        tokens = part.split()
        _, path = _walk(CLI, (), tokens)
        if path == group[:1] or not path:  # `leads show X | explain X`: the group carries over
            parent: Any = CLI
            for t in group:
                parent = parent.commands[t]
            _, path = _walk(parent, group, tokens)
        if path == ("batches",):  # `leadctl batches` alone lists the batches
            path = ("batches", "list")
        out.append((path, options + re.findall(r"(?<![\w-])--[a-z][a-z-]*", part)))
        group = path[:-1]
    return out


COMMANDS_MD = _read("commands.md")
COMMAND_LINES = _command_lines(COMMANDS_MD)


def test_commands_doc_shows_command_lines():
    assert len(COMMAND_LINES) > len(LEAVES)


@pytest.mark.parametrize("line,text", COMMAND_LINES, ids=[f"commands.md:{n}" for n, _ in COMMAND_LINES])
def test_commands_doc_line_names_real_command_and_options(line, text):
    for path, options in _resolve(text):
        assert path in LEAVES, f"commands.md:{line}: `{text}` names no leadctl command"
        shown = _help(path)
        for option in options:
            if option in GLOBAL_OPTIONS:
                continue
            assert re.search(rf"(?<![\w-]){option}(?![\w-])", shown), \
                f"commands.md:{line}: `leadctl {' '.join(path)}` has no {option}"


@pytest.mark.parametrize("path", sorted(LEAVES), ids=[" ".join(p) for p in sorted(LEAVES)])
def test_commands_doc_covers_every_command_and_option(path):
    shown: dict[tuple[str, ...], set[str]] = {}
    for _, text in COMMAND_LINES:
        for p, options in _resolve(text):
            shown.setdefault(p, set()).update(options)
    assert path in shown, f"docs/commands.md shows no `leadctl {' '.join(path)}` line"
    for param in LEAVES[path].params:
        for opt in param.opts:
            if opt.startswith("--") and opt != "--help":
                assert opt in shown[path], f"docs/commands.md: no `leadctl {' '.join(path)}` line shows {opt}"


def test_commands_doc_names_every_environment_variable():
    names = set()
    for source in (REPO / "leadctl").rglob("*.py"):
        names |= set(re.findall(r"LEADCTL_[A-Z_]+[A-Z]", source.read_text(encoding="utf-8")))
    missing = sorted(n for n in names if n not in COMMANDS_MD)
    assert not missing, f"docs/commands.md does not name {missing}"


# ---------------------------------------------------------------- links and the package map

@pytest.mark.parametrize("name", sorted(p.name for p in DOCS.glob("*.md")))
def test_docs_name_real_files_and_links(name):
    text = _read(name)
    for path in set(re.findall(r"`(leadctl/[\w/]+\.(?:py|yaml))`", text)):
        assert (REPO / path).is_file(), f"docs/{name} names {path}, which does not exist"
    for folder in set(re.findall(r"`(leadctl/[\w/]+/)`", text)):
        assert (REPO / folder).is_dir(), f"docs/{name} names {folder}, which does not exist"
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" in target:
            continue
        assert (DOCS / target).resolve().exists(), f"docs/{name} links to {target}, which does not exist"


def test_readme_links_the_docs():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in ("rules.md", "mapping.md", "commands.md", "json.md"):
        assert f"docs/{name}" in readme


def test_nothing_points_to_documents_outside_the_repository():
    for root in ("leadctl", "tests", "examples"):
        for source in (REPO / root).rglob("*"):
            if source.suffix in (".py", ".md", ".yaml") and source.name != "test_docs.py":
                text = source.read_text(encoding="utf-8")
                assert "RULES.md" not in text and "DESIGN.md" not in text, f"{source} cites a document users lack"


# ---------------------------------------------------------------- json.md

def _section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def _keys(value) -> set[str]:
    item = value[0] if isinstance(value, list) and value else value
    return set(item) if isinstance(item, dict) else set()


def test_json_doc_names_every_key_commands_print(tmp_path):
    """Each command's real JSON keys (top level, and of list items) are in its json.md section."""
    (tmp_path / "leads.csv").write_text(
        "Email,First Name,Last Name,Company,Phone Number,Country,Job Title,Industry,Employees\n"
        "ada@example.com,Ada,Lovelace,Analytical,+44 20 7946 0000,GB,CTO,SaaS,1500\n"
        "bob@acme.io,Bob,Stone,Acme,,US,Engineer,,\n"
        "bob@acme.io,Bob,Stone,Acme Inc,,US,,,\n"
        ",No,Key,,,,,,\n", encoding="utf-8")
    base = ["--db", str(tmp_path / "leadctl.db"), "--rules", str(tmp_path / "rules")]
    env = {"LEADCTL_NOW": "2026-03-02T10:00:00", "COLUMNS": "200"}

    def run(*args: str):
        result = CliRunner().invoke(app, [*base, *args], env=env)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    assert CliRunner().invoke(app, [*base, "init", "--region", "GB"], env=env).exit_code == 0
    first_import = run("import", str(tmp_path / "leads.csv"), "--output-format", "json")
    logged = CliRunner().invoke(app, [*base, "activity", "log", "ada@example.com", "demo_request"], env=env)
    assert logged.exit_code == 0, logged.output  # a hot lead: a cadence, so tasks are due
    doc = _read("json.md")
    cases = [
        ("import", first_import),
        ("process", run("process", "--format", "json")),
        ("leads list and export leads", run("leads", "list", "--format", "json")),
        ("leads explain", run("leads", "explain", "ada@example.com", "--format", "json")),
        ("owners list", run("owners", "list", "--format", "json")),
        ("followups due", run("followups", "due", "--until", "2026-12-31", "--format", "json")),
        ("followups remind", run("followups", "remind", "--dry-run", "--format", "json")),
        ("batches undo", run("batches", "undo", "1", "--dry-run", "--format", "json")),
        ("reports", run("report", "funnel", "--format", "json")),
        ("reports", run("report", "sources", "--format", "json")),
        ("reports", run("report", "owners", "--format", "json")),
        ("reports", run("report", "scoring", "--format", "json")),
    ]
    for heading, value in cases:
        keys = _keys(value)
        assert keys, f"{heading}: no JSON object to check"
        section = _section(doc, heading)
        missing = sorted(k for k in keys if not re.search(rf"(?<![\w.]){k}(?!\w)", section))
        assert not missing, f"docs/json.md ## {heading} does not name {missing}"
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "scoring.yaml").write_text("fit:\n  rules:\n    - {name: x, when: {titel: CEO}, points: 5}\n")
    checked = CliRunner().invoke(app, [*base, "rules", "check", str(tmp_path / "bad"), "--format", "json"], env=env)
    assert checked.exit_code == 2
    assert _keys(json.loads(checked.stdout)) <= set(re.findall(r"`(\w+)`", _section(doc, "rules check")))
    explain = run("leads", "explain", "ada@example.com", "--format", "json")
    assert _keys(explain["score"]) <= set(re.findall(r"`(\w+)`", _section(doc, "leads explain")))
    imported = run("import", str(tmp_path / "leads.csv"), "--output-format", "json", "--dry-run")
    assert _keys(imported["plan"]) <= set(re.findall(r"`(\w+)`", _section(doc, "import")))
