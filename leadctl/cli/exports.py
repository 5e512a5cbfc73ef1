"""`leadctl export` commands."""
from __future__ import annotations

from typing import Optional

import typer

from . import options as opt
from .context import settings
from .segments import SEGMENT, segment_option

app = typer.Typer(help="Export leads for analysts and other tools.", no_args_is_help=True)


@app.command("leads")
def export_leads_command(
    ctx: typer.Context,
    fmt: str = typer.Option("csv", "--format", help="csv | json | jsonl."),
    output: Optional[str] = opt.OUTPUT,
    stage: Optional[str] = opt.STAGE,
    owner: Optional[str] = opt.OWNER,
    source: Optional[str] = opt.SOURCE,
    min_score: Optional[int] = opt.MIN_SCORE,
    max_score: Optional[int] = opt.MAX_SCORE,
    search: Optional[str] = opt.SEARCH,
    since: Optional[str] = opt.SINCE,
    until: Optional[str] = opt.UNTIL,
    sort: Optional[str] = typer.Option(None, "--sort", help="Field to sort by (default id); prefix - for descending."),
    limit: Optional[int] = typer.Option(None, "--limit", min=0, help="At most N leads (0 = all)."),
    segment: Optional[str] = SEGMENT,
) -> None:
    """Export leads (all lead fields and attributes.* columns) as CSV, JSON or JSON Lines."""
    from ..export import EXPORT_FORMATS, export_leads
    from .listing import lead_filter
    from .render import check_format, check_output, output_file, say

    check_format(fmt, EXPORT_FORMATS)
    check_output(output)
    flt = lead_filter(stage=stage, owner=owner, source=source, min_score=min_score, max_score=max_score,
                      search=search, since=since, until=until, sort=sort, limit=limit)
    flt.segment = segment_option(ctx, segment)
    store = settings(ctx).store()
    with output_file(output) as out:
        n = export_leads(store, flt, out, fmt=fmt)
    if output and output != "-":
        say(f"exported {n} lead{'s' if n != 1 else ''} to {output}")
