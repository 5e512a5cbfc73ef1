"""The funnel, sources and owners reports on a plain `sqlite3` connection (the start-up path).

    report = funnel_lite(con, stages, now=now)      # con: a DB-API connection to an SQLite store

The statements are the ones SQLAlchemy builds for `reports.funnel`, `.sources` and `.owners`
without a filter, written out for SQLite (same expressions, same bound values, so the same
floating-point results), and their rows go to the same `reports.data.*_report_from`: the
reports equal the ordinary path's. Only the unfiltered reports are here; anything else
takes the ordinary path. tests/reports/test_report_lite.py compares both on one store.
"""
from __future__ import annotations

from datetime import datetime
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


def _depth(funnel: Stages) -> tuple[str, list[Any]]:
    """SQL and parameters: the furthest funnel position a lead reached (reports.common.lead_facts)."""
    if not funnel.funnel:
        return "?", [0]
    parts, params = [], []
    for i, s in reversed(list(enumerate(funnel.funnel))):
        parts.append("WHEN (leads.stage = ? OR (leads.stages_entered LIKE '%' || ? || '%' ESCAPE '/')) THEN ?")
        params += [s.name, _like(f"{SEP}{s.name}{SEP}"), i]
    return "CASE " + " ".join(parts) + " ELSE ? END", params + [0]


def _like(text: str) -> str:
    """`text` escaped for LIKE … ESCAPE '/' (SQLAlchemy's autoescape)."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _won(funnel: Stages) -> tuple[str, list[Any]]:
    names = [s.name for s in funnel.won]
    if not names:
        return "0", []
    likes = " OR ".join(["(leads.stages_entered LIKE '%' || ? || '%' ESCAPE '/')"] * len(names))
    return f"(leads.stage IN ({_marks(len(names))}) OR {likes})", names + [_like(f"{SEP}{n}{SEP}") for n in names]


def _in(column: str, names: Sequence[str]) -> tuple[str, list[Any]]:
    return (f"({column} IN ({_marks(len(names))}))", list(names)) if names else ("0", [])


_CONTACTS = ("(SELECT activities.lead_id AS lead_id, min(activities.at) AS first_at FROM activities "
             f"WHERE activities.type IN ({_marks(len(CONTACT_TYPES))}) GROUP BY activities.lead_id) AS contacts")
_SECONDS = ("((julianday(coalesce(contacts.first_at, leads.last_contacted_at)) - julianday(leads.created_at))"
            " * 86400.0)")
_HOURS = f"CASE WHEN ({_SECONDS} >= ?) THEN {_SECONDS} / (? + 0.0) END"


def _response_medians(con, key_sql: str, key_params: list[Any], *, overall: bool) -> dict[Any, tuple]:
    """Median first-response hours per key (reports.common.first_response_hours), in minute steps."""
    step = 1 / 60
    sql = (f"SELECT anon_1.key, round(anon_1.hours / (? + 0.0)) AS step, count(*) FROM "
           f"(SELECT {key_sql} AS key, {_HOURS} AS hours FROM leads LEFT OUTER JOIN {_CONTACTS} "
           "ON contacts.lead_id = leads.id) AS anon_1 WHERE anon_1.hours IS NOT NULL "
           "GROUP BY anon_1.key, round(anon_1.hours / (? + 0.0)) ORDER BY anon_1.key, step")
    params = [step, *key_params, 0, 3600.0, *CONTACT_TYPES, step]
    return stepped_percentiles(con.execute(sql, params), 1, step, (0.5,), overall)


def funnel_lite(con, stages: Sequence[StageInfo], *, now: datetime) -> FunnelReport:
    """`report funnel` without filters, cohorts or --strict (reports.funnel.funnel_report)."""
    funnel = Stages(stages)
    depth, depth_params = _depth(funnel)
    lost, lost_params = _in("leads.stage", [s.name for s in funnel.lost])
    counts = con.execute(f"SELECT {depth} AS depth, CASE WHEN {lost} THEN leads.stage END AS lost, count(*) "
                         f"FROM leads GROUP BY {depth}, CASE WHEN {lost} THEN leads.stage END",
                         [*depth_params, *lost_params, *depth_params, *lost_params]).fetchall()
    timed = [s.name for s in funnel.funnel if s.kind is None]
    times: dict[Any, tuple] = {}
    if timed:
        step, at = 1 / 24, _time(now)
        days = "((julianday(coalesce(stage_history.left_at, ?)) - julianday(stage_history.at)) * 86400.0) / (? + 0.0)"
        sql = (f"SELECT anon_1.stage, round(anon_1.days / (? + 0.0)) AS step, count(*) FROM "
               f"(SELECT stage_history.to_stage AS stage, {days} AS days FROM stage_history "
               f"WHERE stage_history.to_stage IN ({_marks(len(timed))}) AND stage_history.at <= ?) AS anon_1 "
               "GROUP BY anon_1.stage, round(anon_1.days / (? + 0.0)) ORDER BY anon_1.stage, step")
        times = stepped_percentiles(con.execute(sql, [step, at, 86400.0, *timed, at, step]), 1, step,
                                    (0.5, 0.9), False)
    return funnel_report_from(stages, [(None, d, lo, n) for d, lo, n in counts], times, NO_FILTER, now=now)


def _canonical(column: str, sources: Sequence[SourceInfo]) -> tuple[str, list[Any]]:
    """SQL: the canonical source name of `column` (reports.sources.canonical_source)."""
    mapping = source_spellings(sources)
    if not mapping:
        return f"coalesce(nullif(trim({column}), ?), ?)", ["", NONE_LABEL]
    whens = " ".join(["WHEN ? THEN ?"] * len(mapping))
    params = [v for pair in mapping.items() for v in pair]
    return (f"coalesce(nullif(CASE lower(trim({column})) {whens} ELSE trim({column}) END, ?), ?)",
            params + ["", NONE_LABEL])


def sources_lite(con, stages: Sequence[StageInfo], sources: Sequence[SourceInfo]) -> SourcesReport:
    """`report sources` without filters (reports.sources.sources_report)."""
    funnel = Stages(stages)
    mql, sql_ = mql_sql_stages(stages)
    depth, depth_params = _depth(funnel)
    won, won_params = _won(funnel)
    lost, lost_params = _in("leads.stage", [s.name for s in funnel.lost])

    def reached(k):
        return (f"sum(CASE WHEN ({depth} >= ?) THEN ? ELSE ? END)", [*depth_params, k, 1, 0]) if k is not None \
            else ("sum(?)", [0])

    (mql_sql, mql_params), (sql_sql, sql_params) = reached(mql), reached(sql_)
    per_spelling = (f"SELECT leads.source AS spelling, count(*) AS leads, {mql_sql} AS mql, {sql_sql} AS sql, "
                    f"sum(CASE WHEN {won} THEN ? ELSE ? END) AS won, sum(CASE WHEN {lost} THEN ? ELSE ? END) AS lost, "
                    "sum(leads.score) AS sum_score, count(leads.score) AS scored FROM leads GROUP BY leads.source")
    inner_params = [*mql_params, *sql_params, *won_params, 1, 0, *lost_params, 1, 0]
    src, src_params = _canonical("per_spelling.spelling", sources)
    sums = ", ".join(f"sum(per_spelling.{c})" for c in ("leads", "mql", "sql", "won", "lost", "sum_score", "scored"))
    groups = con.execute(f"SELECT {src} AS source, {sums} FROM ({per_spelling}) AS per_spelling GROUP BY {src}",
                         [*src_params, *inner_params, *src_params]).fetchall()
    key, key_params = _canonical("leads.source", sources)
    medians = _response_medians(con, key, key_params, overall=True)
    return sources_report_from(stages, sources, groups, medians, NO_FILTER)


def owners_lite(con, stages: Sequence[StageInfo]) -> OwnersReport:
    """`report owners` without filters (reports.owners.owners_report)."""
    funnel = Stages(stages)
    won, won_params = _won(funnel)
    stats = {r[0]: r[1:] for r in con.execute(
        "SELECT coalesce(leads.owner, ?) AS owner, count(*), "
        "sum(CASE WHEN (coalesce(contacts.first_at, leads.last_contacted_at) IS NOT NULL) THEN ? ELSE ? END), "
        f"sum(CASE WHEN {won} THEN ? ELSE ? END) FROM leads LEFT OUTER JOIN {_CONTACTS} "
        "ON contacts.lead_id = leads.id GROUP BY coalesce(leads.owner, ?)",
        [NONE_LABEL, 1, 0, *won_params, 1, 0, *CONTACT_TYPES, NONE_LABEL])}
    terminal = [s.name for s in funnel.stages if s.kind in ("won", "lost")]
    open_where = f"leads.stage NOT IN ({_marks(len(terminal))})" if terminal else "1"
    open_by = dict(con.execute(f"SELECT coalesce(leads.owner, ?), count(*) FROM leads WHERE {open_where} "
                               "GROUP BY coalesce(leads.owner, ?)", [NONE_LABEL, *terminal, NONE_LABEL]).fetchall())
    assigned_by = dict(con.execute(
        "SELECT assignments.owner, count(*) FROM assignments JOIN leads ON leads.id = assignments.lead_id "
        "WHERE assignments.owner IS NOT NULL GROUP BY assignments.owner").fetchall())
    breaches_by = dict(con.execute(
        "SELECT coalesce(sla_breaches.owner, ?), count(*) FROM sla_breaches JOIN leads "
        "ON leads.id = sla_breaches.lead_id GROUP BY coalesce(sla_breaches.owner, ?)",
        [NONE_LABEL, NONE_LABEL]).fetchall())
    known = {r[0]: r[1:] for r in con.execute("SELECT name, team, capacity FROM owners WHERE removed IS 0")}
    medians = _response_medians(con, "coalesce(leads.owner, ?)", [NONE_LABEL], overall=False)
    return owners_report_from(stats, open_by, assigned_by, breaches_by, known, medians, NO_FILTER)
