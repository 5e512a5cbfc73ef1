"""Scoring rules decided set-wise: SQL answers what it surely can, in the chunk's own SELECT.

    bits = RuleBits(scorer, LEADS, readable)      # readable: columns nothing rewrites before scoring
    select(..., *bits.columns())                   # one integer per lead: _sure
    sure = lead.pop("_sure")
    scorer.score(lead, records, now, yes=sure & YES_MASK, no=sure >> NO_SHIFT)

Each lead-field rule whose `when:` SQL can partly decide (rules/sql.py) gets a bit; per
lead the SELECT returns one integer: the bits of the rules that surely hold, and above
them (shifted by NO_SHIFT) those that surely do not. The Python condition runs only for
the rules neither mask decides, so every result equals the row-at-a-time evaluator's
(tests/engine/test_setwise.py checks both ways on every run).

Off by default (`SETWISE`): measured at 100k leads with the default rules, the CASE
columns cost SQLite 0.31 s of CPU in the chunk SELECT while sparing Python 0.16 s — the
compiled Python conditions (~0.3 µs each) and the per-fired-set memo of engine/scoring.py
leave SQL nothing to win while every lead still passes through Python for routing and
follow-ups. It pays only where a run need not build the lead in Python at all.
"""
from __future__ import annotations

from typing import Any, Collection

from sqlalchemy import BigInteger, Table, case, literal
from sqlalchemy.sql.expression import ColumnElement

from ..rules.sql import condition_sql
from .scoring import Scorer

SETWISE = False  # True: SQL decides what it surely can (see above; the property test compares both)
MAX_BITS = 31    # yes and no bits share one 64-bit integer in SQL
NO_SHIFT = 31
YES_MASK = (1 << NO_SHIFT) - 1


class RuleBits:
    """The scoring rules SQL can help with, and the SELECT columns that carry its answers."""

    def __init__(self, scorer: Scorer, table: Table, readable: Collection[str]):
        self.terms: list[ColumnElement[Any]] = []
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
                # One CASE per rule: `no` is only tested when `yes` does not hold.
                self.terms.append(case((sure.yes, literal(bit, BigInteger())),
                                       (sure.no, literal(bit << NO_SHIFT, BigInteger())),
                                       else_=literal(0, BigInteger())))
        scorer.use_bits(bits)
        self.active = bool(bits)

    def columns(self) -> list[ColumnElement[Any]]:
        """`_sure` for the chunk's SELECT (none when SQL decides no rule): the yes bits, then the no bits."""
        if not self.active:
            return []
        return [_sum(self.terms).label("_sure")]


def _sum(terms: list[ColumnElement[Any]]) -> ColumnElement[Any]:
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total
