"""`leadctl activity` commands."""
from __future__ import annotations

import typer

app = typer.Typer(help="Record what leads did: calls, e-mails, page views, demo requests.", no_args_is_help=True)
