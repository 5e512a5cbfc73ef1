"""`leadctl rule` commands."""
from __future__ import annotations

import typer

app = typer.Typer(help="Check rule files and preview what a change would do.", no_args_is_help=True)
