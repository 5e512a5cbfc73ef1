"""The shared word readers: yes/no as conditions and imports read them, and one "did you mean"."""
from __future__ import annotations

from datetime import datetime

import pytest

from leadctl.ingest.normalize import BadValue, parse_bool
from leadctl.rules.conditions import compile_condition
from leadctl.words import FALSE_WORDS, TRUE_WORDS, did_you_mean

NOW = datetime(2026, 11, 20, 10, 0)


@pytest.mark.parametrize("word", sorted(TRUE_WORDS))
def test_a_yes_word_is_true_for_imports_and_conditions(word):
    assert parse_bool(word.upper()) is True
    assert compile_condition({"attributes.opted": True})({"attributes": {"opted": f" {word} "}}, NOW)
    assert not compile_condition({"attributes.opted": False})({"attributes": {"opted": word}}, NOW)


@pytest.mark.parametrize("word", sorted(FALSE_WORDS))
def test_a_no_word_is_false_for_imports_and_conditions(word):
    assert parse_bool(word) is False
    assert compile_condition({"attributes.opted": False})({"attributes": {"opted": word}}, NOW)
    assert not compile_condition({"attributes.opted": True})({"attributes": {"opted": word}}, NOW)


def test_opt_out_phrases_are_the_import_column_s_own():
    assert parse_bool("Opted Out") is True and parse_bool("opted-in") is False
    with pytest.raises(BadValue):
        parse_bool("maybe")


def test_did_you_mean():
    assert did_you_mean("titel", ["title", "city"]) == " (did you mean 'title'?)"
    assert did_you_mean("greater", ["gt"], {"greater": "gt"}) == " (did you mean 'gt'?)"
    assert did_you_mean("zzz", ["title"]) == ""
