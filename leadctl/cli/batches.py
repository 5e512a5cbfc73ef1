"""`leadctl batches` commands."""
from __future__ import annotations

import typer

from .context import settings
from .render import check_format, emit_rows, say

app = typer.Typer(help="Import batches: list, show and undo them.", invoke_without_command=True)

_COLUMNS = ("id", "status", "files", "started_at", "read", "created", "updated", "merged", "unchanged", "rejected",
            "warnings")


@app.callback()
def batches_root(ctx: typer.Context,
                 fmt: str = typer.Option("table", "--format", help="table | csv | json.")) -> None:
    """Import batches; with no sub-command, list them."""
    if ctx.invoked_subcommand is None:
        batches_list(ctx, fmt)


@app.command("list")
def batches_list(ctx: typer.Context, fmt: str = typer.Option("table", "--format", help="table | csv | json.")) -> None:
    """List import batches, newest first."""
    from ..ingest.batches import list_batches

    check_format(fmt)
    rows = list_batches(settings(ctx).store())
    emit_rows(_COLUMNS, ([b[c] for c in _COLUMNS] for b in rows), fmt=fmt, title="Import batches")


@app.command("show")
def batches_show(ctx: typer.Context, batch_id: int = typer.Argument(..., metavar="ID"),
                 fmt: str = typer.Option("table", "--format", help="table | json.")) -> None:
    """Show one batch: files, checksum, options, counts and timing."""
    from ..ingest.batches import get_batch

    check_format(fmt, ("table", "json"))
    b = get_batch(settings(ctx).store(), batch_id)
    cols = ("id", "kind", "status", "files", "sha256", "options", "started_at", "finished_at", "read", "created",
            "updated", "merged", "unchanged", "rejected", "warnings", "message")
    if fmt == "json":
        import json

        from .render import jsonable

        typer.echo(json.dumps({c: jsonable(b.get(c)) for c in cols}))
        return
    emit_rows(("field", "value"), ([c, b.get(c)] for c in cols), fmt="table", title=f"Batch {batch_id}")


@app.command("undo")
def batches_undo(ctx: typer.Context, batch_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Undo a batch: delete the leads it created and restore the fields it updated."""
    from ..ingest.batches import undo_batch

    counts = undo_batch(settings(ctx).store(), batch_id)
    say(f"batch {batch_id} undone: {counts['deleted']} leads deleted, {counts['restored']} leads restored")
