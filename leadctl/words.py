"""How leadctl reads the words people write: keys, activity types, yes/no, near misses.

One home for each, so a rule, a logged activity, an imported file and a report
agree on what a word means:

    snake_case("Lead-Score (%)")     # 'lead_score'
    activity_key("Web.Visit")        # 'web_visit' (rules, `activity log`, `activity import`, reports)
    TRUE_WORDS, FALSE_WORDS          # yes/no as conditions and imports read them
    did_you_mean("titel", FIELDS)    # " (did you mean 'title'?)"

Light on purpose (no third-party imports): the CLI reads it at start-up.
"""
from __future__ import annotations

import difflib
import re
import unicodedata
from typing import Iterable, Mapping

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)

# Yes/no as people and exports write them (checkbox exports tick with `x`, `✓` or `checked`).
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on", "t", "x", "checked", "✓", "✔"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "off", "f", "unchecked"})


def snake_case(text: str) -> str:
    """`Total Time Spent on Website` → `total_time_spent_on_website`, `Lead-Score (%)` →
    `lead_score`; Unicode letters kept (lower-cased); may be ""."""
    t = unicodedata.normalize("NFC", str(text)).lower()
    return _NON_WORD.sub("_", t).strip("_")


def activity_key(value: object) -> str:
    """The one spelling of an activity type: `Demo Requested`, `demo-requested` and
    `Web.Visit` → `demo_requested`, `demo_requested`, `web_visit`; may be ""."""
    return snake_case(str(value))


def close_matches(word: str, choices: Iterable[str], *, n: int = 1, cutoff: float = 0.6) -> list[str]:
    """The choices spelt most like `word`, best first (at most `n`)."""
    return difflib.get_close_matches(str(word), list(choices), n=n, cutoff=cutoff)


def did_you_mean(word: str, choices: Iterable[str], synonyms: Mapping[str, str] | None = None,
                 *, cutoff: float = 0.6) -> str:
    """` (did you mean 'x'?)` — from `synonyms` (words spelling cannot find) or the closest
    choice — or an empty string."""
    if synonyms and str(word).lower() in synonyms:
        return f" (did you mean '{synonyms[str(word).lower()]}'?)"
    close = close_matches(word, choices, cutoff=cutoff)
    return f" (did you mean '{close[0]}'?)" if close else ""
