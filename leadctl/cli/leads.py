"""`leadctl lead` commands."""
from __future__ import annotations

import typer

app = typer.Typer(help="Work the queue: list, show, explain, stage, assign, merge and forget leads.", no_args_is_help=True)
