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
    at: Optional[str] = typer.Option(None, "--at", help="When it happened (default: now)."),
    note: Optional[str] = typer.Option(None, "--note", help="A note."),
    fields: List[str] = typer.Option([], "--field", help="k=v detail, e.g. url=/pricing (repeatable)."),
    no_process: bool = typer.Option(False, "--no-process", help="Do not re-score the lead."),
) -> None:
    """Log one activity for a lead (a call updates last_contacted_at and completes the due call)."""
    from ..clock import parse_now
    from ..engine.activities import log_activity
    from ..engine.leadref import resolve_lead

    s = settings(ctx)
    extra = {}
    for item in fields:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"'{item}' is not key=value", param_hint="--field")
        extra[key.strip()] = value
    store = s.store()
    when = parse_now(at) if at else s.now
    with store.connect() as conn:
        lead_id = resolve_lead(conn, lead)
    aid = log_activity(store, lead_id, type_, at=when, note=note, fields=extra)
    if not no_process:
        from ..engine.process import process_leads

        process_leads(store, s.rules(), now=s.now, lead_ids={lead_id})
    say(f"activity {aid} logged for lead {lead_id}")


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
    from ..engine.activities import import_activities

    s = settings(ctx)
    rules = s.rules()
    store = s.store()
    result = import_activities(store, file, now=s.now, mapping=mapping, rejects=rejects, fmt=fmt,
                               default_region=default_region.upper() if default_region else None, dry_run=dry_run)
    if result.lead_ids and not no_process and not dry_run:
        from ..engine.process import process_leads

        process_leads(store, rules, now=s.now, lead_ids=result.lead_ids)
    if output_format == "json":
        sys.stdout.write(json.dumps(result.summary()) + "\n")
    else:
        say(f"activities: {result.read} read, {result.created} stored, {result.duplicates} already known, "
            f"{result.rejected} rejected" + ("" if result.batch else " (dry run: nothing written)"))
    if result.rejects_file:
        say(f"rejected rows written to {result.rejects_file}")
