"""Options shared by the commands that filter leads (`leads list`, `export leads`, `report …`)."""
from __future__ import annotations

import typer

STAGE = typer.Option(None, "--stage", help="Only leads currently in this stage.")
OWNER = typer.Option(None, "--owner", help="Only leads of this owner.")
SOURCE = typer.Option(None, "--source", help="Only leads from this source.")
MIN_SCORE = typer.Option(None, "--min-score", help="Score at least N.")
MAX_SCORE = typer.Option(None, "--max-score", help="Score at most N.")
SEARCH = typer.Option(None, "--search", help="Text in e-mail, name or company (any case).")
SINCE = typer.Option(None, "--since", help="Leads created on or after this date (YYYY-MM-DD).")
UNTIL = typer.Option(None, "--until", help="Leads created up to this date (the whole day).")
OUTPUT = typer.Option(None, "--output", "-o", help="Write to FILE (created readable by you only); default stdout.")
