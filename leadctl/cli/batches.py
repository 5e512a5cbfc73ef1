"""`leadctl batches` commands."""
from __future__ import annotations

import typer

from . import options as opt
from .context import settings
from .render import check_format, emit_rows, say

app = typer.Typer(help="Import batches: list, show and undo them.", invoke_without_command=True)

_COLUMNS = ("id", "status", "files", "started_at", "read", "created", "updated", "merged", "unchanged", "rejected",
            "warnings")


@app.callback()
def batches_root(ctx: typer.Context,
                 fmt: str = opt.TABLE_CSV_JSON) -> None:
    """Import batches; with no sub-command, list them."""
    if ctx.invoked_subcommand is None:
        batches_list(ctx, fmt)


@app.command("list")
def batches_list(ctx: typer.Context, fmt: str = opt.TABLE_CSV_JSON) -> None:
    """List import batches, newest first."""
    from ..ingest.batches import list_batches

    check_format(fmt)
    rows = list_batches(settings(ctx).store())
    emit_rows(_COLUMNS, ([b[c] for c in _COLUMNS] for b in rows), fmt=fmt, title="Import batches")


@app.command("show")
def batches_show(ctx: typer.Context, batch_id: int = typer.Argument(..., metavar="ID"),
                 fmt: str = opt.TABLE_OR_JSON) -> None:
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
def batches_undo(
    ctx: typer.Context,
    batch_id: int = typer.Argument(..., metavar="ID"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show every change the undo would make; write nothing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    force: bool = typer.Option(False, "--force", help="Also delete leads the batch created that were changed since "
                                                      "(they are listed first)."),
    no_process: bool = opt.NO_PROCESS,
    fmt: str = opt.TABLE_OR_JSON,
) -> None:
    """Undo a batch, keeping every change made since: fields later changed and leads touched since stay (listed)."""
    from ..errors import LeadctlError
    from ..ingest.batches import undo_batch
    from ..usecases import undo_and_process

    check_format(fmt, ("table", "json"))
    s = settings(ctx)
    store = s.store()
    if dry_run:
        _render_undo(undo_batch(store, batch_id, force=force, dry_run=True), fmt=fmt, every_change=True)
        return
    if not yes:
        preview = undo_batch(store, batch_id, force=force, dry_run=True)
        _render_undo(preview, fmt="table", every_change=False)
        if not _interactive():
            raise LeadctlError(f"batch {batch_id} not undone: confirmation needed",
                               hint=f"pass --yes to undo it, or --dry-run to see every change "
                                    f"(leadctl batches undo {batch_id} --dry-run)")
        if not typer.confirm(f"Undo batch {batch_id}?", default=False, err=True):
            say("nothing changed")
            raise typer.Exit(1)
    rules = None if no_process else s.rules()  # invalid rules stop the command before anything changes
    result = undo_and_process(store, batch_id, rules=rules, now=s.now, force=force)
    _render_undo(result, fmt=fmt, every_change=False)


def _interactive() -> bool:
    """Whether someone can answer a question (stdin and stderr are terminals)."""
    import sys

    return sys.stdin.isatty() and sys.stderr.isatty()


_UNDO_COLUMNS = ("action", "lead", "field", "now", "after_undo", "why")


def _render_undo(result, *, fmt: str, every_change: bool) -> None:
    """The summary on stderr; the changes (all with --dry-run, else what is kept) as a table or JSON."""
    if fmt == "json":
        import json

        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))
        return
    rows = []
    for k in result.forced:
        rows.append(("delete (--force)", k.lead_id, "", k.label, "deleted", "; ".join(k.reasons)))
    for k in result.kept:
        rows.append(("keep lead", k.lead_id, "", k.label, "kept", "; ".join(k.reasons)))
    for c in result.conflicts:
        rows.append(("keep value", c.lead_id, c.field, c.value, c.value, c.reason))
    if every_change:
        forced = {k.lead_id for k in result.forced}
        rows += [("delete lead", lid, "", "", "deleted", "created by this batch")
                 for lid in result.deleted if lid not in forced]
        rows += [("delete activities", lid, "", n, "", "imported by this batch")
                 for lid, n in sorted(result.activities.items())]
        rows += [("restore", c.lead_id, c.field, c.current, c.restored, "") for c in result.restored]
        rows += [("re-open task", "", f"task {tid}", "done", "pending", "completed by this batch")
                 for tid in result.tasks_reopened]
    label = "undo plan" if result.dry_run else "undone"
    say(f"batch {result.batch} ({result.kind}) {label}: {result.describe()}")
    if rows:
        title = f"Batch {result.batch}: " + ("what the undo would change" if every_change else "kept (changed since)")
        emit_rows(_UNDO_COLUMNS, rows, fmt="table", title=title)
