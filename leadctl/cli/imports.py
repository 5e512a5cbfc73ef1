"""`leadctl import`: bring lead files into the store."""
from __future__ import annotations

import json
import sys
from typing import List, Optional

import typer

from ..ingest.identity import DEFAULT_MATCH as _MATCH
from . import options as opt
from .context import settings
from .render import say

DEFAULT_MATCH = ",".join(_MATCH)


def register(app: typer.Typer) -> None:
    app.command("import")(import_files)


def import_files(
    ctx: typer.Context,
    files: List[str] = typer.Argument(..., help="CSV, JSON or JSON Lines files; '-' reads stdin."),
    source: Optional[str] = typer.Option(None, "--source", help="Source for rows that name none."),
    mapping: Optional[str] = typer.Option(None, "--mapping", help="Import mapping file (YAML)."),
    maps: List[str] = typer.Option([], "--map", help="'Column=field' (repeatable)."),
    mode: str = typer.Option("upsert", "--mode", help="upsert | create | update."),
    match: str = typer.Option(DEFAULT_MATCH, "--match",
                              help="Match keys, first present wins; '+' joins a composite key."),
    fmt: Optional[str] = typer.Option(None, "--format", help="csv | json | jsonl (default: from the file)."),
    delimiter: Optional[str] = typer.Option(None, "--delimiter", help="CSV delimiter (default: sniffed)."),
    encoding: Optional[str] = typer.Option(None, "--encoding", help="Text encoding (default: detected)."),
    default_region: Optional[str] = typer.Option(None, "--default-region",
                                                 help="Country for phone numbers without one, e.g. US."),
    dayfirst: Optional[bool] = typer.Option(None, "--dayfirst/--monthfirst",
                                            help="Read 03/04/2026 as 3 April (default: decided per column)."),
    strict: bool = typer.Option(False, "--strict",
                                help="Reject rows with any unreadable value; exit 1 when any row is rejected."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the column plan and what would happen; write nothing."),
    rejects: Optional[str] = typer.Option(None, "--rejects", help="Rejects file (default <input>.rejects.csv)."),
    no_process: bool = opt.NO_PROCESS,
    output_format: str = typer.Option("table", "--output-format", help="table | json."),
) -> None:
    """Import leads from CSV/JSON files: normalise, validate, deduplicate, then process them."""
    from ..ingest.headers import load_mapping
    from ..ingest.importer import ImportOptions
    from ..usecases import import_leads_and_process

    if output_format not in ("table", "json"):
        raise typer.BadParameter("use table or json", param_hint="--output-format")
    s = settings(ctx)
    rules = s.rules()
    overrides = {}
    for item in maps:
        if "=" not in item:
            raise typer.BadParameter(f"'{item}' is not Column=field", param_hint="--map")
        col, _, target = item.rpartition("=")
        overrides[col.strip()] = target.strip()
    opts = ImportOptions(
        mode=mode, match=tuple(match.split(",")), source=source, overrides=overrides,
        mapping=load_mapping(mapping) if mapping else None, fmt=fmt, delimiter=delimiter, encoding=encoding,
        default_region=default_region.upper() if default_region else None, dayfirst=dayfirst, strict=strict,
        dry_run=dry_run, rejects=rejects,
    )
    if opts.mapping and opts.mapping.match and match == DEFAULT_MATCH:
        opts.match = tuple(opts.mapping.match)
    with _progress() as tick:
        done = import_leads_and_process(s.store(), files, opts, rules, now=s.now, process=not no_process,
                                        progress=tick)
    result, processed = done.result, done.processed
    if output_format == "json":
        sys.stdout.write(json.dumps(result.summary()) + "\n")
    else:
        if dry_run:
            _print_plans(result.plans)
        _print_summary(result, processed)
    for plan in result.plans:
        if plan["preamble_lines"]:
            say(f"{plan['file']}: skipped {plan['preamble_lines']} line(s) of notes above the header row")
    for path in result.rejects_files:
        say(f"rejected rows and warnings written to {path}")
    if strict and result.rejected:
        from ..errors import LeadctlError

        where = f"; see {', '.join(result.rejects_files)}" if result.rejects_files else ""
        raise LeadctlError(f"{result.rejected} row(s) rejected with --strict{where}",
                           hint="fix those rows, or import without --strict to take the readable values")


def _print_plans(plans: list[dict]) -> None:
    """Each file's column plan: the columns feeding each field, in the order a row tries them."""
    from rich.table import Table

    from .render import console, safe_text

    out = console()
    for plan in plans:
        title = f"Columns of {plan['file']}"
        if plan["preamble_lines"]:
            title += f" (header row below {plan['preamble_lines']} line(s) of notes)"
        out.print(safe_text(title))  # not the table's title, which would wrap to the table's width
        t = Table(header_style="bold")
        t.add_column("field")
        t.add_column("columns (a row takes the first readable one)")
        for name, headers in plan["fields"].items():
            t.add_row(name, safe_text(", ".join(headers)))
        if plan["attributes"]:
            t.add_row("attributes", safe_text(", ".join(plan["attributes"])))
        if plan["ignored"]:
            t.add_row("(ignored)", safe_text(", ".join(plan["ignored"])))
        out.print(t)


def _print_summary(result, processed) -> None:
    from rich.table import Table

    from .render import console

    title = "Import (dry run: nothing written)" if result.dry_run else f"Import batch {result.batch}"
    t = Table(title=title, header_style="bold")
    for col in ("read", "created", "updated", "merged", "unchanged", "rejected", "warnings", "seconds"):
        t.add_column(col, justify="right")
    t.add_row(*(str(getattr(result, c)) for c in
                ("read", "created", "updated", "merged", "unchanged", "rejected", "warnings", "seconds")))
    console().print(t)
    from ..ingest.rows import phone_summary

    phones = phone_summary(result.phone_evidence)
    if phones:
        say(phones)
    if result.possible_duplicates:
        say(f"possible duplicates: {result.possible_duplicates} (a shared phone or e-mail with different names or "
            "ids; kept apart, recorded for review)")
    if processed is not None:
        say(processed.summary())


class _progress:
    """A progress bar on stderr while rows arrive, only when stderr is a terminal."""

    def __enter__(self):
        self._bar = None
        if not sys.stderr.isatty():
            return None
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from .render import console

        self._bar = Progress(TextColumn("importing"), BarColumn(), TextColumn("{task.completed:,} rows"),
                             TimeElapsedColumn(), console=console(stderr=True), transient=True)
        self._bar.__enter__()
        task = self._bar.add_task("import", total=None)
        return lambda n: self._bar.advance(task, n)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)
        return False
