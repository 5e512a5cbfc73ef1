"""`leadctl owner` commands."""
from __future__ import annotations

import typer

app = typer.Typer(help="Owners and teams from routing.yaml, with their load.", no_args_is_help=True)
