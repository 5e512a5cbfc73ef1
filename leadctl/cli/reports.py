"""`leadctl report` commands."""
from __future__ import annotations

import typer

app = typer.Typer(help="Funnel, source, owner and scoring reports.", no_args_is_help=True)
