"""`leadctl export` commands."""
from __future__ import annotations

import typer

app = typer.Typer(help="Export leads for analysts and other tools.", no_args_is_help=True)
