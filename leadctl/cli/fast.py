"""The start-up paths of `followups due`, an idle `followups remind` and `report funnel|sources|owners`:
the cron jobs and the reports without Typer, SQLAlchemy or pydantic.

`main()` offers every command line here first. This module reads only the command lines it
is sure about — the global options and one of these commands with its own options, spelled
the way Typer accepts them — on an SQLite store that is ready (`store.lite`), with rules from
the parsed-rules cache. A report's numbers come from `reports.lite` (plain `sqlite3`, the
same statements as `reports.funnel|sources|owners`) and are shown by the same
`reports.output` view and `cli.render.show_report` as on the ordinary path. `followups
remind` is taken only when the sweep is surely idle (`_surely_idle`), and then does nothing.
Anything else (help, a usage error, an option it does not take, a URL, a store to migrate,
rules not cached yet, any error or doubt) returns False before printing anything, and the
command runs through Typer as usual, which prints the same output or the error.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Callable

# Global options: name -> environment variable (Typer reads the same ones).
_ROOT = {"--db": "LEADCTL_DB", "--rules": "LEADCTL_RULES", "--now": "LEADCTL_NOW"}
_ROOT_DEFAULTS = {"--db": "./leadctl.db", "--rules": "./rules", "--now": None}


class _NotHere(Exception):
    """This command line is for the ordinary path."""


def _options(args: list[str], with_value: set[str], flags: set[str]) -> tuple[dict[str, str | bool], list[str]]:
    """Options (`--x v`, `--x=v`, flags) from the front of `args`, and the rest; _NotHere on anything else."""
    found: dict[str, str | bool] = {}
    i = 0
    while i < len(args) and args[i].startswith("-"):
        arg = args[i]
        name, eq, value = arg.partition("=")
        if name in flags and not eq:
            found[name] = True
        elif name in with_value:
            if not eq:
                i += 1
                if i >= len(args):
                    raise _NotHere
                value = args[i]
            if not value or value.startswith("-"):
                raise _NotHere
            found[name] = value
        else:
            raise _NotHere  # --help, --version, a typo, `--`: Typer says what it does with them
        i += 1
    return found, args[i:]


def _root(args: list[str]) -> tuple[dict[str, str | None], list[str]]:
    found, rest = _options(args, set(_ROOT), set())
    settings: dict[str, str | None] = {}
    for name, env in _ROOT.items():
        if name in found:
            settings[name] = str(found[name])
        elif env in os.environ:
            if not os.environ[env]:
                raise _NotHere
            settings[name] = os.environ[env]
        else:
            settings[name] = _ROOT_DEFAULTS[name]
    return settings, rest


def _light_rules(settings: dict[str, str | None]) -> dict:
    from ..rules.cache import folder_key, load_light

    key = folder_key(str(settings["--rules"]))
    light = load_light(key) if key else None
    if light is None:
        raise _NotHere
    return light


# Report options this path takes; a filter, --by, --strict or a picture goes to the ordinary path.
_REPORTS = ("funnel", "sources", "owners")


def _or_not_here(check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`check(*args, **kwargs)`; a value it refuses is left to the ordinary path, which reports it."""
    from ..errors import LeadctlError

    try:
        return check(*args, **kwargs)
    except LeadctlError:
        raise _NotHere from None


def _open_store(settings: dict[str, str | None]) -> Any:
    """The SQLite store, when it is ready for the start-up path; otherwise not here."""
    from ..store.lite import open_ready

    con = open_ready(str(settings["--db"]))
    if con is None:
        raise _NotHere
    return con


def _report(name: str, settings: dict[str, str | None], args: list[str]) -> bool:
    opts, rest = _options(args, {"--format", "--output"}, {"--totals"})
    fmt = str(opts.get("--format", "table"))
    output = opts.get("--output")
    if rest or fmt not in ("table", "csv", "json"):
        raise _NotHere
    light = _light_rules(settings)
    if light.get("stages") is None or light.get("sources") is None:
        raise _NotHere
    from ..clock import parse_now
    from .render import check_output

    now = _or_not_here(parse_now, settings["--now"])
    _or_not_here(check_output, output, "--output")
    try:  # the rendering of the ordinary path (reports.output, cli.render)
        from ..reports import output as views
        from .render import show_report, stage_labels
    except ImportError:
        raise _NotHere from None
    con = _open_store(settings)
    import sqlite3

    from ..reports import lite
    from ..reports.data import SourceInfo, StageInfo

    stages = [StageInfo(*s) for s in light["stages"]]
    report: Any
    try:
        con.execute("BEGIN")  # one snapshot for every statement of the report
        # reports.common.report_connection: temporary b-trees in memory.
        con.execute("PRAGMA temp_store = MEMORY")
        if name == "funnel":
            report = lite.funnel_lite(con, stages, now=now)
        elif name == "sources":
            report = lite.sources_lite(con, stages, [SourceInfo(*s) for s in light["sources"]])
        else:
            report = lite.owners_lite(con, stages)
        con.execute("COMMIT")
    except sqlite3.Error:
        raise _NotHere from None
    finally:
        con.close()
    if name == "funnel":
        view = views.funnel_view(report, now=now)
    elif name == "sources":
        view = views.sources_view(report, stage_labels(stages), now=now)
    else:
        view = views.owners_view(report, now=now)
    show_report(view, fmt=fmt, output=output, totals=bool(opts.get("--totals")))  # type: ignore[arg-type]
    return True


def _remind(settings: dict[str, str | None], args: list[str]) -> bool:
    """`followups remind` when the sweep is surely idle: nothing due, no breach to send, no lead an
    inactivity rule or an SLA check could take since the last sweep — then it prints nothing and
    writes nothing (the next sweep that does work covers this one's time as well). Anything else,
    options and transports included, is for the ordinary path."""
    if args or os.environ.get("LEADCTL_SMTP_URL") or os.environ.get("LEADCTL_WEBHOOK_URL"):
        raise _NotHere
    if _in_terminal():
        raise _NotHere  # in a terminal the sweep says "nothing to remind"
    light = _light_rules(settings)
    sweep = light.get("sweep")
    if not isinstance(sweep, dict) or any(t is None for _, t in sweep["inactivity"]):
        raise _NotHere
    from ..clock import parse_now

    now = _or_not_here(parse_now, settings["--now"])
    con = _open_store(settings)
    import sqlite3

    try:
        con.execute("BEGIN")
        idle = _surely_idle(con, light, sweep, now)
        con.execute("COMMIT")
    except (sqlite3.Error, ValueError, TypeError, KeyError):
        raise _NotHere from None
    finally:
        con.close()
    if not idle:
        raise _NotHere
    return True


def _in_terminal() -> bool:
    """Whether stdout is a terminal (or cannot tell): the sweep then speaks even when idle."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return True


def _surely_idle(con, light: dict, sweep: dict, now) -> bool:
    """The checks of engine.remind's sweep, each a superset in plain SQL: False at the first that may act."""
    import json
    from datetime import datetime

    from ..engine.bizhours import BusinessCalendar
    from ..engine.sweepscan import sla_window

    def t(value: datetime) -> str:
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")  # as the store's DateTime columns hold it

    def meta(key: str) -> str | None:
        row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    raw = meta("remind.swept")
    last = json.loads(raw) if raw else None
    if not isinstance(last, dict) or last.get("digest") != sweep["digest"]:
        return False
    prev = datetime.fromisoformat(last["at"])
    if now < prev or con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN "
                                 "('leads_processed_stale', 'activities_processed_stale', "
                                 "'activities_processed_stale_i', 'activities_processed_stale_d')").fetchone()[0] != 4:
        return False
    # Due tasks not reminded yet, on a channel the lead allows (engine.remind.collect); breaches to send.
    from ..engine.consent import allowed_sql

    if con.execute("SELECT 1 FROM followups LEFT JOIN leads ON leads.id = followups.lead_id "
                   "WHERE followups.status = 'pending' AND followups.reminded_at IS NULL AND followups.due_at <= ? "
                   f"AND {allowed_sql('followups', 'leads')} LIMIT 1", (t(now),)).fetchone():
        return False
    if con.execute("SELECT 1 FROM sla_breaches WHERE action = 'notify' AND notified_at IS NULL LIMIT 1").fetchone():
        return False
    # Inactivity (engine.remind._narrowing): leads written, active, uncovered or quiet long enough since.
    since = ["SELECT id FROM leads WHERE processed IS NULL", "SELECT id FROM leads WHERE processed > ?",
             "SELECT lead_id FROM activities WHERE id > ?",
             "SELECT lead_id FROM followups WHERE status != 'pending' AND completed_at >= ? AND kind = 'inactivity'"]
    base = [int(last["run"]), int(last["activity"]), t(prev)]
    for name, thresholds in sweep["inactivity"]:
        parts, params = list(since), list(base)
        # Each threshold is one of the rule's top-level conditions: a lead it takes now is old enough on all.
        old_enough, extra = "", []
        for column, age in thresholds:
            if column not in ("created_at", "last_activity_at", "last_contacted_at", "assigned_at",
                              "stage_changed_at", "updated_at"):
                return False
            parts.append(f"SELECT id FROM leads WHERE {column} >= ? AND {column} <= ?")
            params += [t(prev - age), t(now - age)]
            old_enough += f"AND {column} <= ? "
            extra.append(t(now - age))
        # ... and has the stage (temperature) the rule names; a non-ASCII value is left to the sweep.
        for column, values in (sweep.get("filters") or {}).get(name, ()):
            if column not in ("stage", "temperature"):
                return False
            old_enough += (f"AND (lower(trim({column})) IN ({', '.join('?' * len(values))}) "
                           f"OR {column} GLOB '*[^ -~]*') ")
            extra += list(values)
        params += extra
        sql = ("SELECT 1 FROM leads WHERE erased_at IS NULL AND id IN (" + " UNION ".join(parts) + ") "
               + old_enough
               + "AND NOT EXISTS (SELECT 1 FROM followups f WHERE f.lead_id = leads.id AND f.kind = 'inactivity' "
               "AND f.cadence = ? AND (f.status = 'pending' OR leads.last_activity_at IS NULL "
               "OR f.created_at >= leads.last_activity_at)) LIMIT 1")
        if con.execute(sql, (*params, name)).fetchone():
            return False
    # SLA (engine.sla.check_sla): no deadline since the last check can have passed.
    if sweep["sla"]:
        raw_since = meta("sla.checked_until")
        checked = datetime.fromisoformat(raw_since) if raw_since else None
        since_at = checked if checked is not None and checked <= now else None
        cals = _calendars(con, light)
        zone_cals = [BusinessCalendar(cals.hours, z) for z in sorted({"UTC", *cals.zones.values()})]
        rules_sql, params = [], []
        for within in sweep["sla"]:
            earliest, latest, shortest = sla_window(zone_cals, now, since_at, within)
            part = "(assigned_at <= ? AND assigned_at < ?"
            params += [t(latest), t(now)]
            if earliest is not None:
                part += " AND assigned_at >= ?"
                params.append(t(earliest))
            # not surely contacted in time (engine.sla._in_time_sql)
            part += (" AND NOT (last_contacted_at IS NOT NULL AND last_contacted_at >= assigned_at AND "
                     "CAST(strftime('%s', last_contacted_at) AS INTEGER) < "
                     "CAST(strftime('%s', assigned_at) AS INTEGER) + ?))")
            params.append(int(shortest.total_seconds()))
            rules_sql.append(part)
        terminal = list(sweep["terminal"])
        sql = ("SELECT 1 FROM leads WHERE owner IS NOT NULL AND assigned_at IS NOT NULL AND erased_at IS NULL "
               + (f"AND stage NOT IN ({', '.join('?' * len(terminal))}) " if terminal else "")
               + "AND (" + " OR ".join(rules_sql) + ") LIMIT 1")
        if con.execute(sql, (*terminal, *params)).fetchone():
            return False
    return True


def _calendars(con, light: dict) -> Any:
    """The business calendars of the light rules' hours, each owner in their time zone."""
    from types import SimpleNamespace

    from ..engine.bizhours import Calendars

    days, start, end = light["hours"]
    # engine.bizhours.owner_zones: the rules' owners, then the store's.
    zones: dict[str, str] = {}
    for name, email, tz in light["owners"]:
        zones[name] = tz
        if email:
            zones[email] = tz
    for name, email, tz in con.execute("SELECT name, email, timezone FROM owners"):
        if tz:
            zones[name] = tz
            if email:
                zones[email] = tz
    return Calendars(SimpleNamespace(days=days, start=start, end=end), zones)


def _due(settings: dict[str, str | None], args: list[str]) -> bool:
    opts, rest = _options(args, {"--until", "--limit", "--format"}, {"--overdue"})
    fmt = str(opts.get("--format", "table"))
    raw_limit = str(opts.get("--limit", "1000"))
    if rest or fmt not in ("table", "csv", "json") or not raw_limit.isdigit():
        raise _NotHere
    limit = int(raw_limit)
    light = _light_rules(settings)
    from ..clock import parse_now, parse_when

    until_at = _or_not_here(parse_when, opts.get("--until"), "--until", end=True)
    now = _or_not_here(parse_now, settings["--now"])
    con = _open_store(settings)
    import sqlite3

    from ..engine.due import due_tasks_sqlite

    try:
        con.execute("BEGIN")
        cals = _calendars(con, light)
        tasks = due_tasks_sqlite(con, cals, now, until=until_at, overdue=bool(opts.get("--overdue")),
                                 limit=(limit + 1) if limit else None)
        con.execute("COMMIT")
    except sqlite3.Error:
        raise _NotHere from None
    finally:
        con.close()
    show_due(tasks, fmt=fmt, limit=limit)
    return True


DUE_COLUMNS = ("id", "due_at", "due_local", "overdue", "overdue_by", "owner", "action", "lead_id", "lead", "cadence",
               "step", "kind", "note")
# The table keeps to what fits a terminal; CSV and JSON carry every column.
TABLE_COLUMNS = ("id", "due_local", "overdue", "owner", "action", "lead", "cadence", "step")
TABLE_HEADERS = ("Task", "Due (owner's time)", "Overdue", "Owner", "Action", "Lead", "Cadence / rule", "Step")


def show_due(tasks: list, *, fmt: str, limit: int) -> None:
    """Print the due list (at most `limit` of `tasks`, 0 = all) as `followups due` does, on either path."""
    from .render import emit_rows, say

    more = bool(limit) and len(tasks) > limit
    tasks = tasks[:limit] if limit else tasks
    if fmt == "table":
        if not tasks:
            say("nothing due")
            return
        emit_rows(TABLE_COLUMNS, [(t.id, t.due_local, t.overdue, t.owner or "(unassigned)", t.action, t.lead,
                                   t.cadence, t.step) for t in tasks],
                  fmt=fmt, headers=TABLE_HEADERS, title="Follow-ups due")
    else:
        # Scripts get a boolean (CSV: true/false, as JSON spells it) and the lateness text or null, never "".
        late = (lambda t: bool(t.overdue)) if fmt == "json" else (lambda t: "true" if t.overdue else "false")
        emit_rows(DUE_COLUMNS, [(t.id, t.due_at, t.due_local, late(t), t.overdue or None, t.owner, t.action,
                                 t.lead_id, t.lead, t.cadence, t.step, t.kind, t.note) for t in tasks], fmt=fmt)
    if more:
        say(f"showing the first {limit} tasks; use --limit 0 for all")


def run(argv: list[str]) -> bool:
    """Run `argv` here when this path takes it; False: nothing was done, run it through Typer."""
    try:
        settings, rest = _root(argv)
        if rest[:2] == ["followups", "due"]:
            return _due(settings, rest[2:])
        if rest[:2] == ["followups", "remind"]:
            return _remind(settings, rest[2:])
        if rest[:1] == ["report"] and rest[1:2] and rest[1] in _REPORTS:
            return _report(rest[1], settings, rest[2:])
    except _NotHere:
        return False
    return False


def wanted(argv: list[str] | None) -> bool:
    """Is this a command line `run` might take (cheap: no imports)?"""
    args = sys.argv[1:] if argv is None else argv
    return (("followups" in args and ("due" in args or "remind" in args))
            or ("report" in args and any(r in args for r in _REPORTS)))
