"""Scoring rules decided set-wise: SQL answers what it surely can, in the chunk's own SELECT.

    bits = RuleBits(scorer, LEADS, readable)      # readable: columns nothing rewrites before scoring
    select(..., *bits.columns())                   # two integers per lead: _yes, _no
    scorer.score(lead, records, now, yes=lead["_yes"], no=lead["_no"])

Each lead-field rule whose `when:` SQL can partly decide (rules/sql.py) gets a bit; per
lead the SELECT returns the bits of the rules that surely hold (`_yes`) and surely do not
(`_no`). The Python condition runs only for the rules neither mask decides, so every
result equals the row-at-a-time evaluator's (tests/engine/test_setwise.py checks it).
"""
from __future__ import annotations

from typing import Any, Collection

from sqlalchemy import Integer, Table, case, literal
from sqlalchemy.sql.expression import ColumnElement

from ..rules.sql import condition_sql
from .scoring import Scorer

SETWISE = True   # False: every condition in Python (the reference; the property test compares both)
MAX_BITS = 62    # the masks are 64-bit integers in SQL


class RuleBits:
    """The scoring rules SQL can help with, and the SELECT columns that carry its answers."""

    def __init__(self, scorer: Scorer, table: Table, readable: Collection[str]):
        self.yes: list[ColumnElement[Any]] = []
        self.no: list[ColumnElement[Any]] = []
        bits: dict[int, int] = {}
        if SETWISE:
            for r in scorer.rules:
                if r.activity is not None or r.source is None or len(bits) >= MAX_BITS:
                    continue
                sure = condition_sql(r.source, table, readable)
                if not sure.useful:
                    continue
                bit = 1 << len(bits)
                bits[r.index] = bit
                self.yes.append(case((sure.yes, literal(bit, Integer())), else_=literal(0, Integer())))
                self.no.append(case((sure.no, literal(bit, Integer())), else_=literal(0, Integer())))
        scorer.use_bits(bits)
        self.active = bool(bits)

    def columns(self) -> list[ColumnElement[Any]]:
        """`_yes` and `_no` for the chunk's SELECT (none when SQL decides no rule)."""
        if not self.active:
            return []
        return [_sum(self.yes).label("_yes"), _sum(self.no).label("_no")]


def _sum(terms: list[ColumnElement[Any]]) -> ColumnElement[Any]:
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total
