"""`leadctl init`: a database and the default, commented rule set."""
from __future__ import annotations

import typer

from .context import settings
from .render import say


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(ctx: typer.Context) -> None:
    """Create the database and copy the default rules into the rules folder (never overwrites)."""
    from ..setup import init_project

    s = settings(ctx)
    created, kept = init_project(s.db, s.rules_dir)
    for path in created:
        say(f"created {path}")
    for path in kept:
        say(f"kept {path} (exists)")
