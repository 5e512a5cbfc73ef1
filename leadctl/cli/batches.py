"""`leadctl batche` commands."""
from __future__ import annotations

import typer

app = typer.Typer(help="Import batches: list, show and undo them.", no_args_is_help=True)
