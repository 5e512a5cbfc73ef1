"""`leadctl activity` commands."""
from __future__ import annotations

import json
import sys
from typing import List, Optional

import typer

from . import options as opt
from .context import from_option, settings
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
    no_process: bool = opt.NO_PROCESS,
    touch_source: Optional[str] = typer.Option(None, "--touch-source",
                                               help="The marketing source this touch came from (utm_source)."),
    campaign: Optional[str] = typer.Option(None, "--campaign", help="Its campaign (utm_campaign)."),
) -> None:
    """Log one activity for a lead (a call updates last_contacted_at and completes the due call)."""
    from ..ingest.activities import parse_when
    from ..usecases import log_activity_and_process

    s = settings(ctx)
    extra = {}
    for item in fields:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"'{item}' is not key=value", param_hint="--field")
        extra[key.strip()] = value
    with from_option("--at"):
        when = parse_when(at, s.now) if at else None
    rules = None if no_process else s.rules()  # --no-process works even while the rules are being fixed
    done = log_activity_and_process(s.store(), lead, type_, rules=rules, now=s.now, at=when, note=note,
                                    fields=extra, touch_source=(touch_source or "").strip() or None,
                                    campaign=(campaign or "").strip() or None)
    _warn_unknown(done.types.unknown, done.types.known)
    say(f"activity {done.activity_id} logged for lead {done.lead_id}")


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
    no_process: bool = opt.NO_PROCESS,
    output_format: str = typer.Option("table", "--output-format", help="table | json."),
) -> None:
    """Import events (page views, e-mail opens, demo requests …) keyed by e-mail, phone or external id."""
    from ..usecases import import_activities_and_process

    s = settings(ctx)
    result = import_activities_and_process(
        s.store(), file, s.rules(), now=s.now, process=not no_process, mapping=mapping, rejects=rejects, fmt=fmt,
        default_region=default_region.upper() if default_region else None, dry_run=dry_run).result
    if output_format == "json":
        sys.stdout.write(json.dumps(result.summary()) + "\n")
    else:
        say(f"activities: {result.read} read, {result.created} stored, {result.duplicates} already known, "
            f"{result.rejected} rejected" + ("" if result.batch else " (dry run: nothing written)"))
    _warn_unknown(result.unknown_types, result.known_types)
    if result.rejects_file:
        say(f"rejected rows written to {result.rejects_file}")
