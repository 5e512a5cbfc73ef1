"""Rule files: loading, validation and the condition language (see docs/rules.md).

Kept light on purpose: importing `leadctl.rules` pulls in nothing heavy; the public
names below load their module on first use.
"""
from __future__ import annotations

from pathlib import Path

DEFAULT_RULES_DIR = Path(__file__).resolve().parent.parent / "default_rules"

_LAZY = {
    "load_rules": "loader", "check_rules": "loader", "RuleSet": "loader",
    "compile_condition": "conditions", "Condition": "conditions", "ALWAYS": "conditions",
    "RuleTimeout": "conditions",
    "parse_duration": "durations", "DurationError": "durations",
    "load_yaml": "yamlload", "LineMap": "yamlload",
}

__all__ = ["DEFAULT_RULES_DIR", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module
        return getattr(import_module(f"leadctl.rules.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'leadctl.rules' has no attribute {name!r}")
