"""The funnel, sources and owners reports on a plain `sqlite3` connection (the start-up path).

    report = funnel_lite(con, stages, now=now)      # con: a DB-API connection to an SQLite store

The statements are the ones SQLAlchemy builds for `reports.funnel`, `.sources` and `.owners`
without a filter, written out for SQLite (same expressions, same bound values, so the same
floating-point results), and their rows go to the same `reports.data.*_report_from`: the
reports equal the ordinary path's. Only the unfiltered reports are here; anything else
takes the ordinary path. tests/reports/test_report_lite.py compares both on one store.
"""
from __future__ import annotations

from bisect import bisect_right
from datetime import datetime
from itertools import accumulate
from types import SimpleNamespace
from typing import Any, Sequence

from .data import (
    CONTACT_TYPES,
    NONE_LABEL,
    FunnelReport,
    OwnersReport,
    SourceInfo,
    SourcesReport,
    StageInfo,
    Stages,
    funnel_report_from,
    mql_sql_stages,
    owners_report_from,
    source_spellings,
    sources_report_from,
    stepped_percentiles,
)

SEP = "\x1f"  # store.history.SEP: the separator of `leads.stages_entered`
NO_FILTER = SimpleNamespace(stage=None, owner=None, source=None, since=None, until=None)


def _time(value: datetime) -> str:
    """A datetime as the store's DateTime columns hold it on SQLite."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _marks(n: int) -> str:
    return ", ".join("?" * n)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _fold(text: str) -> str:
    """`text` as SQLite's LIKE and lower() compare it: ASCII letters lower-cased, nothing else."""
    return text.translate(_ASCII_LOWER)


class _Facts:
    """Per (stage, stages_entered): the furthest funnel position, won, lost — as reports.common.lead_facts
    says them in SQL (a stage in the history is found with LIKE, so ASCII case does not matter)."""

    def __init__(self, funnel: Stages):
        self.funnel = funnel
        self.marks = [(i, s.name, _fold(f"{SEP}{s.name}{SEP}")) for i, s in reversed(list(enumerate(funnel.funnel)))]
        self.won = {s.name for s in funnel.won}
        self.won_marks = [_fold(f"{SEP}{n}{SEP}") for n in self.won]
        self.lost = {s.name for s in funnel.lost}

    def depth(self, stage: str | None, entered: str | None) -> int:
        history = _fold(entered) if entered is not None else None
        for i, name, mark in self.marks:
            if stage == name or (history is not None and mark in history):
                return i
        return 0

    def is_won(self, stage: str | None, entered: str | None) -> bool:
        if stage in self.won:
            return True
        history = _fold(entered) if entered is not None else None
        return history is not None and any(m in history for m in self.won_marks)


# (owner, stage, stages_entered, leads): one pass over ix_leads_owner_facts, in its order (no sort).
_OWNER_GROUPS = "SELECT owner, stage, stages_entered, count(*) FROM leads GROUP BY owner, stage, stages_entered"


def _lead_groups(con) -> list[tuple]:
    """(source, stage, stages_entered, leads, score sum, scored) — in the order of ix_leads_facts,
    which covers the statement: one pass over the index, no sort."""
    return con.execute("SELECT source, stage, stages_entered, count(*), sum(score), count(score) FROM leads "
                       "GROUP BY source, stage, stages_entered").fetchall()




def _hours(first_at: str) -> str:
    """SQL: first-response hours (reports.common.first_response_hours) given the first contact activity's time."""
    seconds = (f"((julianday(coalesce({first_at}, leads.last_contacted_at)) - julianday(leads.created_at))"
               " * 86400.0)")
    return f"CASE WHEN ({seconds} >= ?) THEN {seconds} / (? + 0.0) END"


def _contacted(con, key_sql: str, key_params: list[Any]) -> list[tuple]:
    """(key, first-response minute step or None, leads) over the leads ever contacted, ordered by key and
    step: what reports.common.first_response_hours gives per lead, grouped (a NULL step: contacted before
    it was created). Only contacted leads are read — those with a contact activity, then those with only
    `last_contacted_at` (ix_leads_contacted) — instead of every lead joined to its contacts: the others
    have no response time."""
    step = 1 / 60
    first = ("(SELECT activities.lead_id AS lead_id, min(activities.at) AS first_at FROM activities "
             f"WHERE activities.type IN ({_marks(len(CONTACT_TYPES))}) GROUP BY activities.lead_id)")
    sql = (f"WITH contacts AS MATERIALIZED {first} "
           f"SELECT anon_1.key, round(anon_1.hours / (? + 0.0)) AS step, count(*) FROM "
           f"(SELECT {key_sql} AS key, {_hours('contacts.first_at')} AS hours "
           "FROM contacts JOIN leads ON leads.id = contacts.lead_id "
           f"UNION ALL SELECT {key_sql} AS key, {_hours('NULL')} AS hours FROM leads "
           "WHERE leads.last_contacted_at IS NOT NULL AND leads.id NOT IN (SELECT lead_id FROM contacts)) AS anon_1 "
           "GROUP BY anon_1.key, round(anon_1.hours / (? + 0.0)) ORDER BY anon_1.key, step")
    hours = [0, 3600.0]
    params = [*CONTACT_TYPES, step, *key_params, *hours, *key_params, *hours, step]
    return con.execute(sql, params).fetchall()


def _response_medians(con, key_sql: str, key_params: list[Any], *, overall: bool) -> dict[Any, tuple]:
    """Median first-response hours per key (reports.common.first_response_hours), in minute steps."""
    return stepped_percentiles(_contacted(con, key_sql, key_params), 1, 1 / 60, (0.5,), overall)


_DAYS = "((julianday(coalesce(stage_history.left_at, ?)) - julianday(stage_history.at)) * 86400.0) / (? + 0.0)"


def _times(con, timed: list[str], now: datetime) -> dict[Any, tuple]:
    """Median and p90 days in each timed stage (reports.funnel), from every stage-history row."""
    step, at = 1 / 24, _time(now)
    sql = (f"SELECT anon_1.stage, round(anon_1.days / (? + 0.0)) AS step, count(*) FROM "
           f"(SELECT stage_history.to_stage AS stage, {_DAYS} AS days FROM stage_history "
           f"WHERE stage_history.to_stage IN ({_marks(len(timed))}) AND stage_history.at <= ?) AS anon_1 "
           "GROUP BY anon_1.stage, round(anon_1.days / (? + 0.0)) ORDER BY anon_1.stage, step")
    return stepped_percentiles(con.execute(sql, [step, at, 86400.0, *timed, at, step]), 1, step, (0.5, 0.9), False)


def times_from_stays(con, timed: list[str], now: datetime) -> dict[Any, tuple] | None:
    """What `_times` returns, from the counts of store.stays (`stage_stays`) and the rows of the few hours
    that decide a percentile; None when the store does not keep the counts, a row is dated after `now`
    (the counts cannot leave it out) or an hour is not written as the store writes times."""
    from ..store.stays import installed

    at = _time(now)
    if not installed(con):
        return None
    for stage in timed:  # one index seek each (ix_stage_history_to)
        latest = con.execute("SELECT max(at) FROM stage_history WHERE to_stage = ?", (stage,)).fetchone()[0]
        if latest is not None and latest > at:
            return None
    # Per stage: (lowest step, highest step, rows, hour or None). A closed row's step is known; the rows
    # of an open hour stayed between `ends - 1` and `ends` hours (steps lo..hi, with a margin for rounding;
    # never below 0: no row is dated after now).
    ends = "(julianday(?) - julianday(bucket || ':00')) * 24.0"
    sql = (f"SELECT to_stage, CASE WHEN kind = 'c' THEN bucket ELSE max(0, CAST({ends} - 0.500001 AS INTEGER)) END, "
           f"CASE WHEN kind = 'c' THEN bucket ELSE CAST({ends} + 0.500001 AS INTEGER) END, n, "
           "CASE WHEN kind = 'o' THEN bucket END, "
           "kind = 'o' AND (julianday(bucket || ':00') IS NULL OR bucket NOT GLOB "
           "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]') "
           f"FROM stage_stays WHERE to_stage IN ({_marks(len(timed))}) AND n > 0")
    items: dict[str, list[tuple]] = {}
    for stage, lo, hi, n, hour, odd in con.execute(sql, [at, at, *timed]):
        if odd:
            return None
        items.setdefault(stage, []).append((lo, hi, n, hour))
    out: dict[Any, tuple] = {}
    try:
        for stage in timed:
            if stage in items:
                out[stage] = _pick_stays(con, stage, at, items[stage])
    except _Unsure:
        return None
    return out


class _Unsure(Exception):
    """The counts cannot say a percentile (a time SQLite cannot read): the report reads every row."""


def _pick_stays(con, stage: str, at: str, items: list[tuple]) -> tuple[float | None, ...]:
    """reports.data.pick_weighted's median and p90 over the stays of `stage`: hours whose rows could hold
    one of the ranks are counted row by row (their steps replace their range), until each rank is sure."""
    step = 1 / 24
    total = sum(i[2] for i in items)
    wanted = []
    for q in (0.5, 0.9):
        pos = q * (total - 1)
        lo_rank = int(pos)
        wanted.append((pos, lo_rank, min(lo_rank + 1, total - 1)))
    ranks = sorted({r for _pos, lo, hi in wanted for r in (lo, hi)})
    while True:
        # A rank's step lies between the one reached when every hour counts at its lowest step and
        # the one reached when every hour counts at its highest.
        bounds: dict[int, list[Any]] = {}
        for side in (0, 1):
            pairs = sorted((i[side], i[2]) for i in items)
            cum = list(accumulate(n for _v, n in pairs))
            for r in ranks:
                bounds.setdefault(r, []).append(pairs[bisect_right(cum, r)][0])
        open_ranks = [(lo, hi) for lo, hi in bounds.values() if lo != hi]
        if not open_ranks:
            break
        unsure = [i for i in items if i[3] is not None and i[0] != i[1]
                  and any(i[0] <= hi and i[1] >= lo for lo, hi in open_ranks)]
        if not unsure:
            raise _Unsure
        drop = {i[3] for i in unsure}
        items = [i for i in items if i[3] not in drop]
        for i in unsure:
            for value, n in con.execute(
                    f"SELECT round(({_DAYS}) / (? + 0.0)), count(*) FROM stage_history "
                    "WHERE to_stage = ? AND left_at IS NULL AND at >= ? AND at < ? AND substr(at, 1, 13) = ? "
                    "AND at <= ? GROUP BY 1", [at, 86400.0, step, stage, i[3], i[3] + "\U0010ffff", i[3], at]):
                if value is None:
                    raise _Unsure
                items.append((value, value, n, None))
        if sum(i[2] for i in items) != total:
            raise _Unsure
    out = []
    for pos, lo_rank, hi_rank in wanted:
        lo, hi = float(bounds[lo_rank][0]) * step, float(bounds[hi_rank][0]) * step
        out.append(float(lo + (hi - lo) * (pos - lo_rank)))
    return tuple(out)


def funnel_lite(con, stages: Sequence[StageInfo], *, now: datetime) -> FunnelReport:
    """`report funnel` without filters, cohorts or --strict (reports.funnel.funnel_report)."""
    funnel = Stages(stages)
    facts = _Facts(funnel)
    counts: dict[tuple[int, str | None], int] = {}
    for _owner, stage, entered, leads in con.execute(_OWNER_GROUPS):  # the narrower of the two indexes
        key = (facts.depth(stage, entered), stage if stage in facts.lost else None)
        counts[key] = counts.get(key, 0) + leads
    timed = [s.name for s in funnel.funnel if s.kind is None]
    times: dict[Any, tuple] = {}
    if timed:
        counted = times_from_stays(con, timed, now)
        times = counted if counted is not None else _times(con, timed, now)
    return funnel_report_from(stages, [(None, d, lo, n) for (d, lo), n in counts.items()], times, NO_FILTER,
                              now=now)


def _canonical(column: str, sources: Sequence[SourceInfo]) -> tuple[str, list[Any]]:
    """SQL: the canonical source name of `column` (reports.sources.canonical_source)."""
    mapping = source_spellings(sources)
    if not mapping:
        return f"coalesce(nullif(trim({column}), ?), ?)", ["", NONE_LABEL]
    whens = " ".join(["WHEN ? THEN ?"] * len(mapping))
    params = [v for pair in mapping.items() for v in pair]
    return (f"coalesce(nullif(CASE lower(trim({column})) {whens} ELSE trim({column}) END, ?), ?)",
            params + ["", NONE_LABEL])


def canonical_name(value: str | None, mapping: dict[str, str]) -> str:
    """The canonical source of a stored value, as reports.sources.canonical_source says it in SQL on SQLite
    (trim() takes spaces only; lower() and the CASE compare ASCII case only)."""
    if value is None:
        return NONE_LABEL
    trimmed = value.strip(" ")
    return mapping.get(_fold(trimmed), trimmed) or NONE_LABEL


def sources_lite(con, stages: Sequence[StageInfo], sources: Sequence[SourceInfo]) -> SourcesReport:
    """`report sources` without filters (reports.sources.sources_report)."""
    funnel = Stages(stages)
    facts = _Facts(funnel)
    mql, sql_ = mql_sql_stages(stages)
    mapping = source_spellings(sources)
    sums: dict[str, list] = {}
    for source, stage, entered, leads, score_sum, scored in _lead_groups(con):
        depth = facts.depth(stage, entered)
        row = sums.setdefault(canonical_name(source, mapping), [0, 0, 0, 0, 0, None, 0])
        row[0] += leads
        row[1] += leads if mql is not None and depth >= mql else 0
        row[2] += leads if sql_ is not None and depth >= sql_ else 0
        row[3] += leads if facts.is_won(stage, entered) else 0
        row[4] += leads if stage in facts.lost else 0
        if score_sum is not None:
            row[5] = score_sum if row[5] is None else row[5] + score_sum
        row[6] += scored
    groups = [(name, *sums[name]) for name in sorted(sums)]
    key, key_params = _canonical("leads.source", sources)
    medians = _response_medians(con, key, key_params, overall=True)
    return sources_report_from(stages, sources, groups, medians, NO_FILTER)


def owners_lite(con, stages: Sequence[StageInfo]) -> OwnersReport:
    """`report owners` without filters (reports.owners.owners_report)."""
    funnel = Stages(stages)
    facts = _Facts(funnel)
    terminal = {s.name for s in funnel.stages if s.kind in ("won", "lost")}
    # Counts per (owner, stage, history) from ix_leads_owner_facts; contacted leads from their contacts.
    stats: dict[str, list[int]] = {}
    open_by: dict[str, int] = {}
    for owner, stage, entered, leads in con.execute(_OWNER_GROUPS):
        name = NONE_LABEL if owner is None else owner
        row = stats.setdefault(name, [0, 0, 0])
        row[0] += leads
        row[2] += leads if facts.is_won(stage, entered) else 0
        # reports.common.is_open: `stage NOT IN (terminal)` leaves out a missing stage (NULL)
        if not terminal or (stage is not None and stage not in terminal):
            open_by[name] = open_by.get(name, 0) + leads
    contacted = _contacted(con, "coalesce(leads.owner, ?)", [NONE_LABEL])
    for name, _step, leads in contacted:
        stats[name][1] += leads
    # Every assignment has its lead (a foreign key, ON DELETE CASCADE): counted from ix_assignments_owner alone.
    assigned_by = dict(con.execute(
        "SELECT owner, count(*) FROM assignments WHERE owner IS NOT NULL GROUP BY owner").fetchall())
    breaches_by = dict(con.execute(
        "SELECT coalesce(sla_breaches.owner, ?), count(*) FROM sla_breaches JOIN leads "
        "ON leads.id = sla_breaches.lead_id GROUP BY coalesce(sla_breaches.owner, ?)",
        [NONE_LABEL, NONE_LABEL]).fetchall())
    known = {r[0]: r[1:] for r in con.execute("SELECT name, team, capacity FROM owners WHERE removed IS 0")}
    medians = stepped_percentiles(contacted, 1, 1 / 60, (0.5,), False)
    return owners_report_from(stats, open_by, assigned_by, breaches_by, known, medians, NO_FILTER)
