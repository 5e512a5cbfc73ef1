"""Rendering for people (Rich tables on stdout, talk on stderr) and scripts (CSV, JSON)."""
from __future__ import annotations

import json
import os
import re
import sys
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Sequence

FORMATS = ("table", "csv", "json")


def console(stderr: bool = False):
    """A Rich console; colours off when not a terminal or with NO_COLOR."""
    from rich.console import Console

    width = int(os.environ["LEADCTL_WIDTH"]) if os.environ.get("LEADCTL_WIDTH") else None
    stream = sys.stderr if stderr else sys.stdout
    if width is None and not os.environ.get("COLUMNS") and not stream.isatty():
        width = 160  # piped or in a cron mail: wide enough that tables stay readable
    # markup=False: lead data is printed, and a company called "[/x]" must not be read as markup.
    return Console(stderr=stderr, width=width, no_color=bool(os.environ.get("NO_COLOR")), markup=False,
                   highlight=False, soft_wrap=False)


def say(message: str) -> None:
    """Talk to the person at the terminal (stderr, so stdout stays data)."""
    sys.stderr.write(message + "\n")


def check_format(value: str, allowed: Sequence[str] = FORMATS) -> str:
    if value not in allowed:
        import typer  # here, not at the top: the start-up path renders without the CLI framework

        raise typer.BadParameter(f"'{value}' is not one of {', '.join(allowed)}", param_hint="--format")
    return value


def check_output(path: str | None, option: str = "--output") -> None:
    """Refuse an output file that cannot be written, before any work is done."""
    from ..errors import OutputError

    if path in (None, "-"):
        return
    p = Path(path)
    if p.is_dir():
        raise OutputError(f"{option}: {path} is a folder, not a file", hint="name a file inside the folder")
    folder = p.parent
    if not folder.exists():
        raise OutputError(f"{option}: cannot write {path}: folder {folder} does not exist",
                          hint="create the folder or choose another path")
    if not folder.is_dir():
        raise OutputError(f"{option}: cannot write {path}: {folder} is not a folder", hint="choose another path")
    if not os.access(p if p.exists() else folder, os.W_OK):
        raise OutputError(f"{option}: cannot write {path}: permission denied",
                          hint="check the permissions of the file and its folder, or choose another path")


@contextmanager
def output_file(path: str | None, option: str = "--output", *, private: bool = True) -> Iterator[IO[str]]:
    """stdout for None or '-', else a file readable by its owner only (`private`, for lead data)
    or with the user's normal mode (umask: aggregate reports meant to be shared); a failure to
    open or write it (missing folder, permissions, a full disk) becomes one error naming the file."""
    from ..csvsafe import output_stream
    from ..errors import OutputError, os_error

    to_stdout = path in (None, "-")
    try:
        if private or to_stdout:
            with output_stream(path) as out:
                yield out
        else:
            with open(str(path), "w", encoding="utf-8", newline="") as out:
                yield out
    except BrokenPipeError:
        raise
    except OSError as exc:
        if to_stdout:
            raise os_error(exc, action="write to standard output", cls=OutputError) from exc
        raise os_error(exc, action="write", option=option, path=path, cls=OutputError) from exc


def write_shared(path: str, data: bytes, option: str) -> None:
    """Write an aggregate file (a chart) with the user's normal mode; errors name the file."""
    from ..errors import OutputError, os_error

    try:
        with open(path, "wb") as fh:
            fh.write(data)
    except OSError as exc:
        raise os_error(exc, action="write", option=option, path=path, cls=OutputError) from exc


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


# Control characters (ESC sequences) and bidi overrides in lead data would drive the terminal.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe_text(text: str) -> str:
    """Lead data made safe for a terminal: control characters and bidi overrides removed."""
    return _UNSAFE.sub("", text)


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value):,}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def emit_rows(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, fmt: str, title: str | None = None,
              output: str | None = None, headers: Sequence[str] | None = None, option: str = "--output") -> None:
    """Print rows as a Rich table, CSV (spreadsheet-safe) or a JSON array of objects.

    `columns` are the snake_case keys used by CSV and JSON; `headers` the table's titles;
    `option` names the output option in errors.
    """
    from ..csvsafe import SafeCsvWriter

    if fmt == "json":
        with output_file(output, option) as out:
            out.write("[")
            for i, row in enumerate(rows):
                out.write(("," if i else "") + "\n" + json.dumps(
                    {c: jsonable(v) for c, v in zip(columns, row)}, ensure_ascii=False))
            out.write("\n]\n")
        return
    if fmt == "csv":
        with output_file(output, option) as out:
            w = SafeCsvWriter(out)
            w.writerow(columns)
            for row in rows:
                w.writerow([jsonable(v) for v in row])
        return
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    for h in headers or columns:
        table.add_column(str(h), overflow="fold")
    for row in rows:
        table.add_row(*(cell_text(v) for v in row))
    if output and output != "-":
        with output_file(output, option) as fh:
            from rich.console import Console

            Console(file=fh, width=200, no_color=True, markup=False).print(table)
        return
    console().print(table)


# ---------------------------------------------------------------- reports (also the start-up path: no Typer here)

def stage_labels(stages: Iterable[Any]) -> dict[str, str]:
    """Stage name -> label, for the stages that have one."""
    return {s.name: s.label for s in stages if s.label}


def report_console(file: IO[str] | None = None, width: int | None = None):
    """A Rich console for a report table: `width` columns; colours off in a file or with NO_COLOR."""
    from rich.console import Console

    from ..reports.output import terminal_width

    return Console(file=file, width=width or terminal_width(), markup=False, highlight=False, soft_wrap=False,
                   no_color=bool(os.environ.get("NO_COLOR")) or file is not None)


def show_report(view: Any, *, fmt: str, output: str | None, svg: str | None = None, png: str | None = None,
                html: str | None = None, totals: bool = False) -> None:
    """Print (or write) a report view in `fmt`, then save its pictures when asked.

    Report files hold aggregates only: they get the user's normal file mode (umask).
    """
    from ..reports import output as out

    if fmt in ("csv", "json"):
        with output_file(output, "--output", private=False) as fh:
            if fmt == "json":
                out.write_json(view, fh)
            else:
                out.write_csv(view, fh, totals=totals)
    elif output and output != "-":
        with output_file(output, "--output", private=False) as fh:
            width = out.terminal_width(fh)
            report_console(fh, width).print(out.rich_table(view, width))
    else:
        width = out.terminal_width()
        report_console(width=width).print(out.rich_table(view, width))
    save_charts(view, svg, png)
    if html:
        write_shared(html, out.html_text(view).encode("utf-8"), "--html")


def save_charts(view: Any, svg: str | None, png: str | None) -> None:
    """Save a report view's main chart as SVG and/or PNG when asked."""
    if svg or png:
        from ..reports import output as out
        from ..reports.charts import render

        figure = out.main_chart(view)
        for path, kind in ((svg, "svg"), (png, "png")):
            if path:
                write_shared(path, render(figure, kind), f"--{kind}")
