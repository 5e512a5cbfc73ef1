"""`leadctl owners` commands."""
from __future__ import annotations

import typer

from . import options as opt
from .context import settings
from .render import check_format, emit_rows

app = typer.Typer(help="Owners and teams from routing.yaml, with their load.", no_args_is_help=True)

_COLUMNS = ("name", "email", "team", "timezone", "open", "capacity", "load", "weight", "availability",
            "last_assigned_at")


@app.command("list")
def owners_list(ctx: typer.Context, fmt: str = opt.TABLE_CSV_JSON) -> None:
    """List owners: open leads against capacity, availability at --now, and last assignment."""
    from ..usecases import owners_status

    check_format(fmt)
    s = settings(ctx)
    rules = s.rules()
    rows = owners_status(s.store(), rules, s.now)
    emit_rows(_COLUMNS, ([getattr(o, c) for c in _COLUMNS] for o in rows), fmt=fmt,
              title=f"Owners at {s.now:%Y-%m-%d %H:%M} UTC")
