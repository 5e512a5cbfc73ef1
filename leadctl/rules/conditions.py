"""The `when:` condition language, compiled once into fast predicates.

    cond = compile_condition({"employees": {"gte": 200}, "country": ["DE", "FR"]},
                             label="Enterprise EU", problems=problems)
    cond(lead, now)        # -> bool; lead is a plain dict, now a naive UTC datetime
    cond.fields            # frozenset({"employees", "country"})
    cond.source            # the spec as written, for `leads explain`

Semantics (docs/rules.md states the contract; these are the details it leaves open):

* Text compares case-insensitively and ignores surrounding spaces for `eq ne in
  not_in`; `contains starts_with ends_with` are case-insensitive; `matches` uses
  the regex exactly as written (add `(?i)` for case-insensitive) and *searches*.
* A number and a numeric string compare numerically (`attributes.seats: {gte: 10}`
  holds for "12"); `between: [a, b]` is inclusive.
* Booleans: `true` matches True and the words of `words.TRUE_WORDS` ("true/yes/y/1/on",
  a checkbox's "x", "checked" or tick; `false` the opposite, `words.FALSE_WORDS`);
  `do_not_contact: yes` works the same as `do_not_contact: true`.
* Missing (None / absent) never satisfies `eq gt gte lt lte between in contains
  starts_with ends_with matches within older_than before after` and always
  satisfies `ne not_in not_contains`. `exists: false` (or `missing: true`) also
  holds for empty or blank text.
* Dates: `within: 14d` holds when the time is at most 14 days before `now`; a time
  in the future also counts as within. `older_than: 30d` holds when it is more than
  30 days before `now`. `before`/`after` with a date compare calendar days
  (`after: 2026-01-01` means from 2 January on); with a date-time they compare
  instants. `gt/gte/lt/lte` with a date work like `after/-/before/-` on days.
  Text values that look like ISO dates (custom attributes) are read as dates.
* `all`, `any`, `not` nest freely and may sit beside field keys (all must hold);
  a list where a mapping is expected means "all of these".
* Extensions: `missing: true` (= `exists: false`), `contains`/`starts_with`/
  `ends_with` with a list (any of them), and `activity.<type>.count/.last`
  for any activity type.

Mistakes are collected as RuleProblem (file, line, message) rather than raised one
by one, so a folder reports everything at once.

The code is split by job: rules/coerce.py (reading values), rules/vocabulary.py (fields,
operators, suggestions), rules/matchers.py (predicates), rules/compiler.py (spec → Condition);
this module is the public face.
"""
from __future__ import annotations

from leadctl.rules.compiler import ALWAYS, Condition, RuleTimeout, compile_condition
from leadctl.rules.vocabulary import DERIVED_FIELDS, LEAD_COLUMNS, OPERATORS

__all__ = ["ALWAYS", "Condition", "OPERATORS", "LEAD_COLUMNS", "DERIVED_FIELDS", "RuleTimeout",
           "compile_condition"]
