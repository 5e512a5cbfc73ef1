"""Loading rule folders: the default rules, golden bad files, typed objects and helpers."""
from __future__ import annotations

import shutil
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from leadctl.errors import RulesError, UsageError
from leadctl.rules import DEFAULT_RULES_DIR
from leadctl.rules.conditions import ALWAYS
from leadctl.rules.loader import RuleSet, load_rules
from leadctl.rules.yamlload import YamlProblems, load_yaml, parse_yaml

ROOT = Path(__file__).resolve().parents[2]
BAD = ROOT / "tests" / "data" / "rules" / "bad"
NOW = datetime(2026, 3, 2, 10, 0)


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def test_default_rules_load_without_problems(monkeypatch):
    monkeypatch.chdir(ROOT)
    rules = load_rules("rules")
    assert isinstance(rules, RuleSet)
    assert rules.directory == "rules"
    assert set(rules.files_loaded) == {"stages.yaml", "scoring.yaml", "qualification.yaml", "routing.yaml",
                                       "followups.yaml", "sources.yaml"}
    assert rules.summary() == (
        "rules/: 7 stages, 21 scoring rules (12 fit, 9 engagement), 3 temperatures, 5 stage rules, "
        "6 owners, 5 routing rules, 2 SLA rules, 2 cadences, 1 inactivity rule, 10 sources")
    # every feature of docs/rules.md's reference format is exercised by the defaults
    assert {r.assign.strategy for r in rules.routing.rules if r.assign.team} == {"round_robin", "weighted",
                                                                                "least_loaded"}
    assert any(r.assign.owner for r in rules.routing.rules) and rules.routing.fallback.owner == "queue"
    assert {a for s in rules.routing.sla for a in s.then} == {"reassign", "notify"}
    assert any(r.each and r.max for r in rules.scoring.engagement.rules)
    assert rules.scoring.engagement.decay.half_life == timedelta(days=30)
    assert rules.scoring.grades is not None
    assert "disqualified" in {r.to for r in rules.qualification.stages}
    assert len(rules.routing.teams) == 2 and any(o.away for o in rules.routing.owners)
    assert all(s.cost for s in rules.sources.sources if s.channel.startswith("paid"))
    assert Path(DEFAULT_RULES_DIR, "scoring.yaml").is_file()


def test_default_rules_score_a_realistic_lead(monkeypatch):
    monkeypatch.chdir(ROOT)
    rules = load_rules("rules")
    lead = {"email": "ana@acme.io", "title": "Head of Operations", "industry": "Fintech", "employees": 1200,
            "country": "DE", "source": "Website Form", "attributes": {"budget": ">100k"},
            "created_at": NOW - timedelta(days=2), "last_activity_at": NOW - timedelta(days=1)}
    fired = [r.name for r in rules.scoring.fit.rules if r.when(lead, NOW)]
    assert fired == ["Decision maker", "Target industry", "Mid-market or larger", "Enterprise", "Budget 50k+",
                     "Core market"]
    first = next(r for r in rules.routing.rules if r.when(lead, NOW))
    assert first.name == "Enterprise EMEA"
    pricing = next(r for r in rules.scoring.engagement.rules if r.name == "Pricing page views")
    assert pricing.when({"type": "page_view", "url": "/pricing/teams"}, NOW)


CASES = sorted(p.name for p in BAD.iterdir() if p.is_dir())


def test_there_are_enough_golden_cases():
    assert len(CASES) >= 12


@pytest.mark.parametrize("case", CASES)
def test_bad_rule_files_report_exact_messages(case, tmp_path, monkeypatch):
    folder = tmp_path / "rules"
    folder.mkdir()
    for f in (BAD / case).iterdir():
        if f.name != "expected.txt":
            shutil.copy(f, folder / f.name)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RulesError) as info:
        load_rules("rules")
    expected = (BAD / case / "expected.txt").read_text().rstrip("\n")
    assert info.value.describe() == expected
    assert info.value.exit_code == 2


def test_missing_folder(tmp_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(RulesError) as info:
        load_rules(missing)
    assert [p.message for p in info.value.problems] == [f"rules folder not found: {missing} (run `leadctl init`)"]


def test_empty_folder_means_no_rules_and_default_stages(tmp_path):
    rules = load_rules(tmp_path)
    assert rules.files_loaded == ()
    assert rules.stages.names == ("new", "mql", "sql", "opportunity", "customer", "lost", "disqualified")
    assert rules.scoring.rules == () and rules.routing.owners == () and rules.sources.resolve("x") is None
    assert rules.followups.business_hours.days == ("mon", "tue", "wed", "thu", "fri")
    assert rules.summary().endswith("0 cadences, 0 inactivity rules, 0 sources")


def test_empty_file_and_yml_extension(tmp_path):
    write(tmp_path, "scoring.yaml", "# nothing yet\n")
    write(tmp_path, "sources.yml", "sources: [{name: Referral, aliases: [ref]}]\n")
    rules = load_rules(tmp_path)
    assert rules.sources.resolve(" REF ") == "Referral"
    assert set(rules.files_loaded) == {"scoring.yaml", "sources.yml"}


def test_stages_helpers(tmp_path):
    write(tmp_path, "stages.yaml", """
stages:
  - {name: new}
  - {name: working, label: In progress}
  - {name: won, kind: won, aliases: [Closed - Converted, Won]}
  - {name: lost, kind: lost, aliases: [Dead]}
allow_backward: yes
""")
    s = load_rules(tmp_path).stages
    assert s.resolve("  closed - CONVERTED ") == "won" and s.resolve("nope") is None
    assert s.index("working") == 1 and s.index("dead") == 3
    assert s.is_terminal("won") and not s.is_terminal("new")
    assert s.won == ("won",) and s.lost == ("lost",) and s.open_stages == ("new", "working")
    assert s.allow_backward is True and s.get("working").display == "In progress"
    with pytest.raises(UsageError, match="unknown stage 'wonn' \\(did you mean 'won'\\?\\)"):
        s.index("wonn")


def test_qualification_stage_alias_is_canonicalised(tmp_path):
    write(tmp_path, "qualification.yaml", "stages: [{to: Closed - Converted, when: {score: {gte: 90}}}]\n")
    assert load_rules(tmp_path).qualification.stages[0].to == "customer"


def test_scoring_model(tmp_path):
    write(tmp_path, "scoring.yaml", """
version: 1
fit:
  max: 50
  rules:
    - {name: Big, when: {employees: {gte: 1000}}, points: 10.5}
engagement:
  decay: {steps: [{after: 30d, factor: 0.5}, {after: 90d, factor: 0}]}
  rules:
    - {name: Visits, activity: page_view, when: {url: {contains: /pricing}}, points: 2, each: true, max: 10}
    - {name: Always, points: 1}
total: {max: 100}
grades: {fit: {A: 40, B: 20, C: 0}, engagement: {1: 40, 2: 15, 3: 0}}
""")
    sc = load_rules(tmp_path).scoring
    assert sc.fit.max == 50 and sc.fit.rules[0].points == 10.5
    visits = sc.engagement.rules[0]
    assert (visits.activity, visits.each, visits.max) == ("page_view", True, 10)
    assert visits.when.fields == {"url"}
    assert sc.engagement.rules[1].when is ALWAYS
    d = sc.engagement.decay
    assert d.factor(timedelta(days=10)) == 1.0 and d.factor(timedelta(days=45)) == 0.5
    assert d.factor(timedelta(days=100)) == 0.0
    assert sc.total.min is None and sc.total.max == 100
    assert sc.grades.grade(45, 20) == "A2" and sc.grades.grade(-5, 0) == "C3"


def test_routing_model(tmp_path):
    write(tmp_path, "routing.yaml", """
owners:
  - {name: dana, email: Dana@Example.com, team: emea, timezone: Europe/Berlin, capacity: 2, weight: 2,
     away: [{from: 2026-12-20, to: 2027-01-03}]}
  - {name: sam, team: inbound, active: false}
rules:
  - {name: EMEA, when: {country: DE}, assign: {team: emea}}
  - {name: By mail, assign: {owner: dana@example.com}}
fallback: {team: inbound, strategy: least_loaded}
sla:
  - {name: Hot, within: 4h, then: [reassign, notify]}
""")
    r = load_rules(tmp_path).routing
    dana = r.owner("DANA")
    assert dana.timezone == "Europe/Berlin" and dana.capacity == 2 and dana.weight == 2 and dana.active
    assert dana.away[0].from_ == date(2026, 12, 20)
    assert dana.is_away(date(2027, 1, 1)) and dana.available(date(2026, 6, 1))
    assert not r.owner("sam").available(date(2026, 6, 1)) and r.owner("sam").timezone == "UTC"
    assert r.rules[0].assign.strategy == "round_robin"
    assert r.fallback.team == "inbound" and r.fallback.strategy == "least_loaded"
    assert r.sla[0].within == timedelta(hours=4) and r.sla[0].then == ("reassign", "notify")
    assert r.teams == ("emea", "inbound") and [o.name for o in r.members("EMEA")] == ["dana"]


def test_followups_model(tmp_path):
    write(tmp_path, "followups.yaml", """
business_hours: {days: [Monday, tue, Wed], start: "8:30", end: "18:00"}
cadences:
  - name: Hot
    when: {temperature: hot}
    steps: [{after: 15m, action: call}, {after: 1d, action: email, note: recap}]
    stop_when: {stage: customer}
inactivity:
  - {name: Quiet, when: {days_since_activity: {gte: 14}}, action: call}
""")
    f = load_rules(tmp_path).followups
    assert f.business_hours.days == ("mon", "tue", "wed") and f.business_hours.start == time(8, 30)
    assert f.business_hours.weekdays == {0, 1, 2}
    c = f.cadences[0]
    assert [s.after for s in c.steps] == [timedelta(minutes=15), timedelta(days=1)] and c.steps[1].note == "recap"
    assert c.stop_when({"stage": "Customer"}, NOW) and not c.stop_when({"stage": "new"}, NOW)
    assert f.inactivity[0].when({"last_activity_at": NOW - timedelta(days=20)}, NOW)


def test_sources_model(tmp_path):
    write(tmp_path, "sources.yaml", """
sources:
  - name: Google Ads
    channel: paid_search
    aliases: [google, adwords, "Google AdWords"]
    cost: {2026-01: 1200, 2026-02: 950.50}
""")
    s = load_rules(tmp_path).sources
    assert s.resolve("  google adwords ") == "Google Ads" and s.resolve("GOOGLE ADS") == "Google Ads"
    assert s.get("adwords").cost == {"2026-01": 1200, "2026-02": 950.5}


@pytest.mark.parametrize("text,line,message", [
    ("sources:\n  - name: A\n    aliases: [x]\n  - name: B\n    aliases: [X]\n", 1,
     "sources: 'X' names two sources ('A' and 'B')"),
    ("sources: [{name: A, cost: {2026-13: 5}}]\n", 1,
     "source 'A': cost months are written YYYY-MM (like 2026-01), got '2026-13'"),
])
def test_sources_errors(tmp_path, text, line, message):
    write(tmp_path, "sources.yaml", text)
    with pytest.raises(RulesError) as info:
        load_rules(tmp_path)
    (p,) = info.value.problems
    assert (p.line, p.message) == (line, message)


# ------------------------------------------------------------------- YAML loading
def test_line_map_and_plain_data(tmp_path):
    write(tmp_path, "x.yaml", "fit:\n  rules:\n    - name: A\n      when:\n        title: x\n")
    data, lines = load_yaml(tmp_path / "x.yaml")
    assert data == {"fit": {"rules": [{"name": "A", "when": {"title": "x"}}]}}
    assert lines.line(("fit",)) == 1 and lines.line(("fit", "rules", 0)) == 3
    assert lines.line(("fit", "rules", 0, "when")) == 4 and lines.line(("fit", "rules", 0, "when", "title")) == 5
    assert lines.line(("fit", "rules", 0, "points")) == 3  # falls back to the nearest ancestor


def test_yaml_scalars_are_not_reinterpreted():
    data, _ = parse_yaml("country: NO\nstart: 9:00\nzip: 02134\nflag: yes\nn: 12\nf: 950.50\nt: true\nd: 2026-01-02\n")
    assert data == {"country": "NO", "start": "9:00", "zip": "02134", "flag": "yes", "n": 12, "f": 950.5,
                    "t": True, "d": date(2026, 1, 2)}


@pytest.mark.parametrize("text,expected", [
    ("a: &x 1\nb: *x\n", "f.yaml:2: YAML aliases are not allowed in rule files"),
    ("a: 1\na: 2\n", "f.yaml:2: duplicate key 'a' (also on line 1)"),
    ("a: [1, 2\n", "f.yaml:2: YAML syntax error: expected ',' or ']', but got '<stream end>'"),
    ("a: 1\n---\nb: 2\n", "f.yaml:2: YAML syntax error: expected a single document in the stream, "
                          "but found another document"),
])
def test_yaml_problems(text, expected):
    with pytest.raises(YamlProblems) as info:
        parse_yaml(text, "f.yaml")
    assert [str(p) for p in info.value.problems] == [expected]


def test_yaml_bomb_is_refused_quickly(tmp_path):
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    write(tmp_path, "scoring.yaml", "\n".join(lines) + "\n")
    with pytest.raises(RulesError) as info:
        load_rules(tmp_path)
    assert [p.message for p in info.value.problems] == ["YAML aliases are not allowed in rule files"]
