"""Options several commands share: lead filters (`leads list`, `export leads`, `report …`), formats, `--no-process`."""
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

# Output formats and the "then process" switch, shared by the commands that print a result or change leads.
TABLE_OR_JSON = typer.Option("table", "--format", help="table | json.")
TABLE_CSV_JSON = typer.Option("table", "--format", help="table | csv | json.")
NO_PROCESS = typer.Option(False, "--no-process",
                          help="Do not process the leads it changes (scoring, qualification, routing, follow-ups).")
