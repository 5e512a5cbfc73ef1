"""`leadctl activity` commands."""
from __future__ import annotations

import json
import sys
from typing import List, Optional

import typer

from .context import settings
from .render import say

app = typer.Typer(help="Record what leads did: calls, e-mails, page views, demo requests.", no_args_is_help=True)


@app.command("log")
def activity_log(
    ctx: typer.Context,
    lead: str = typer.Argument(..., help="Lead id, e-mail or external id."),
    type_: str = typer.Argument(..., metavar="TYPE", help="call, email_sent, meeting, page_view, demo_request …"),
    at: Optional[str] = typer.Option(None, "--at", help="When it happened: ISO time, yesterday, 3h ago "
                                                        "(default: now; at most a day ahead)."),
    note: Optional[str] = typer.Option(None, "--note", help="A note."),
    fields: List[str] = typer.Option([], "--field", help="k=v detail, e.g. url=/pricing (repeatable)."),
    no_process: bool = typer.Option(False, "--no-process", help="Do not re-score the lead."),
) -> None:
    """Log one activity for a lead (a call updates last_contacted_at and completes the due call)."""
    from ..engine.leadref import resolve_lead
    from ..ingest.activities import activity_type, check_activity_types, log_activity, parse_when

    s = settings(ctx)
    extra = {}
    for item in fields:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"'{item}' is not key=value", param_hint="--field")
        extra[key.strip()] = value
    kind = activity_type(type_)
    when = parse_when(at, s.now) if at else s.now
    rules = None if no_process else s.rules()
    store = s.store()
    with store.connect() as conn:
        lead_id = resolve_lead(conn, lead)
        check = check_activity_types(conn, rules, {kind: 1})
    aid = log_activity(store, lead_id, kind, at=when, note=note, fields=extra)
    if rules is not None:
        from ..engine.process import process_leads

        process_leads(store, rules, now=s.now, lead_ids={lead_id})
    _warn_unknown(check.unknown, check.known)
    say(f"activity {aid} logged for lead {lead_id}")


def _warn_unknown(unknown: dict[str, int], known: list[str]) -> None:
    """A type no rule uses and the store has never seen is usually a typo: say so, with the known ones."""
    from ..words import did_you_mean

    for kind, rows in unknown.items():
        listed = ", ".join(known[:30]) + (f" … ({len(known)} in all)" if len(known) > 30 else "")
        count = f" ({rows} rows)" if rows > 1 else ""
        say(f"warning: activity type '{kind}'{did_you_mean(kind, known)}{count} "
            f"is used by no rule and not in the store yet; known types: {listed or 'none'}")


@app.command("import")
def activity_import(
    ctx: typer.Context,
    file: str = typer.Argument(..., help="CSV, JSON or JSON Lines of events; '-' reads stdin."),
    mapping: Optional[str] = typer.Option(None, "--mapping", help="Mapping file (columns: {Event: type})."),
    fmt: Optional[str] = typer.Option(None, "--format", help="csv | json | jsonl (default: from the file)."),
    default_region: Optional[str] = typer.Option(None, "--default-region", help="Country for local phones."),
    rejects: Optional[str] = typer.Option(None, "--rejects", help="Rejects file (default <input>.rejects.csv)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count only; write nothing."),
    no_process: bool = typer.Option(False, "--no-process", help="Do not re-score the leads."),
    output_format: str = typer.Option("table", "--output-format", help="table | json."),
) -> None:
    """Import events (page views, e-mail opens, demo requests …) keyed by e-mail, phone or external id."""
    from ..ingest.activities import import_activities

    s = settings(ctx)
    rules = s.rules()
    store = s.store()
    result = import_activities(store, file, now=s.now, mapping=mapping, rejects=rejects, fmt=fmt,
                               default_region=default_region.upper() if default_region else None, dry_run=dry_run,
                               rules=rules)
    if result.lead_ids and not no_process and not dry_run:
        from ..engine.process import process_leads

        process_leads(store, rules, now=s.now, lead_ids=result.lead_ids)
    if output_format == "json":
        sys.stdout.write(json.dumps(result.summary()) + "\n")
    else:
        say(f"activities: {result.read} read, {result.created} stored, {result.duplicates} already known, "
            f"{result.rejected} rejected" + ("" if result.batch else " (dry run: nothing written)"))
    _warn_unknown(result.unknown_types, result.known_types)
    if result.rejects_file:
        say(f"rejected rows written to {result.rejects_file}")
