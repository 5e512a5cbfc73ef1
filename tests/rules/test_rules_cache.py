"""The parsed-rules cache: a folder read before is not parsed again; any change to it is."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import leadctl
from leadctl.rules import cache, loader

DEFAULTS = Path(leadctl.__file__).parent / "default_rules"


@pytest.fixture
def rules_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("LEADCTL_RULES_CACHE", raising=False)
    d = tmp_path / "rules"
    shutil.copytree(DEFAULTS, d)
    return d


def _parses(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = loader._load_rules

    def counting(directory, modes):
        calls.append(str(directory))
        return real(directory, modes)

    monkeypatch.setattr(loader, "_load_rules", counting)
    return calls


def test_second_load_comes_from_the_cache_and_equals_a_parse(rules_dir, monkeypatch):
    calls = _parses(monkeypatch)
    first = loader.load_rules(rules_dir)
    second = loader.load_rules(rules_dir)
    assert len(calls) == 1
    assert second is not first
    assert repr(second) == repr(first) == repr(loader._load_rules(rules_dir, {}))
    # Conditions are compiled again, and behave the same.
    from datetime import datetime

    lead = {"country": "DE", "employees": 500, "title": "VP Sales", "stage": "mql", "attributes": {}}
    now = datetime(2026, 6, 1, 10, 0)
    for a, b in zip(loader.lead_conditions(first), loader.lead_conditions(second), strict=True):
        assert (a.fields, a.label, a.source) == (b.fields, b.label, b.source)
        assert a.test(dict(lead), now) == b.test(dict(lead), now)


def test_any_change_to_the_folder_reads_it_again(rules_dir, monkeypatch):
    calls = _parses(monkeypatch)
    loader.load_rules(rules_dir)
    path = rules_dir / "followups.yaml"
    path.write_text(path.read_text().replace("09:00", "08:00"))
    changed = loader.load_rules(rules_dir)
    assert len(calls) == 2
    assert changed.followups.business_hours.start.hour == 8
    (rules_dir / "sources.yaml").unlink()
    loader.load_rules(rules_dir)
    assert len(calls) == 3


def test_invalid_rules_are_not_cached(rules_dir, monkeypatch):
    calls = _parses(monkeypatch)
    (rules_dir / "stages.yaml").write_text("stages: 3\n")
    for _ in range(2):
        with pytest.raises(leadctl.RulesError):
            loader.load_rules(rules_dir)
    assert len(calls) == 2


def test_the_cache_can_be_turned_off_and_a_damaged_entry_is_ignored(rules_dir, monkeypatch):
    calls = _parses(monkeypatch)
    loader.load_rules(rules_dir)
    key = cache.folder_key(rules_dir)
    (cache.cache_dir() / f"rules-{key}.pickle").write_bytes(b"not a pickle")
    loader.load_rules(rules_dir)
    assert len(calls) == 2
    monkeypatch.setenv("LEADCTL_RULES_CACHE", "0")
    loader.load_rules(rules_dir)
    loader.load_rules(rules_dir)
    assert len(calls) == 4


def test_light_values_match_the_rules(rules_dir):
    rules = loader.load_rules(rules_dir)
    light = cache.load_light(cache.folder_key(rules_dir))
    hours = rules.followups.business_hours
    assert light["hours"] == (tuple(hours.days), hours.start, hours.end)
    assert light["owners"] == [(o.name, o.email, o.timezone) for o in rules.routing.owners]
