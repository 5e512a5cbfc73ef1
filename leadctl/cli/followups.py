"""`leadctl followup` commands."""
from __future__ import annotations

import typer

app = typer.Typer(help="Follow-up tasks and the cron reminder sweep.", no_args_is_help=True)
