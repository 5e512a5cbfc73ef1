"""`leadctl process`: re-apply scoring, qualification, routing and cadences to every lead."""
from __future__ import annotations

import json

import typer

from . import options as opt
from .context import settings
from .render import check_format


def register(app: typer.Typer) -> None:
    @app.command("process")
    def process_run(
        ctx: typer.Context,
        dry_run: bool = typer.Option(False, "--dry-run", help="Compute everything, write nothing."),
        fmt: str = opt.TABLE_OR_JSON,
    ) -> None:
        """Re-apply scoring, qualification, routing and cadences to all leads."""
        from ..engine.process import process_leads

        check_format(fmt, ("table", "json"))
        s = settings(ctx)
        rules = s.rules()
        result = process_leads(s.store(), rules, now=s.now, dry_run=dry_run)
        if fmt == "json":
            typer.echo(json.dumps(result.to_dict()))
        else:
            typer.echo(result.summary())
