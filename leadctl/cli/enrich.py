"""`leadctl leads enrich`: fill empty fields from what leads have and from rules/enrichment.yaml (on `leads`)."""
from __future__ import annotations

import typer

from . import options as opt
from .context import settings
from .leads import app
from .render import check_format, emit_rows, say


@app.command("enrich")
def leads_enrich(ctx: typer.Context,
                 dry_run: bool = typer.Option(False, "--dry-run", help="Count what it would fill; write nothing."),
                 fmt: str = opt.TABLE_CSV_JSON) -> None:
    """Fill empty fields (company, country, industry …) offline, recording where each value came from."""
    from ..enrichment import enrich_store

    check_format(fmt)
    s = settings(ctx)
    r = enrich_store(s.store(), s.rules_dir, now=s.now, dry_run=dry_run)
    emit_rows(("field", "leads"), sorted(r.fields.items()), fmt=fmt, title="Values filled")
    say(f"{'would enrich' if dry_run else 'enriched'} {r.leads} leads; imported values are never overwritten "
        "(`leadctl leads show LEAD` says where each value came from)")
