"""`leadctl rules` commands: check a rules folder, preview what a change would do."""
from __future__ import annotations

import json
from typing import Optional

import typer

from . import options as opt
from .context import settings
from .render import check_format, console, say

app = typer.Typer(help="Check rule files and preview what a change would do.", no_args_is_help=True)


@app.command("check")
def rules_check(ctx: typer.Context,
                directory: Optional[str] = typer.Argument(None, help="Rules folder (default: --rules)."),
                fmt: str = typer.Option("text", "--format",
                                        help="text | json (a list of {file, line, message, hint}).")) -> None:
    """Validate a rules folder: list every problem of every file (exit 2) or print a one-line summary."""
    from ..errors import RulesError
    from ..rules.loader import check_rules

    check_format(fmt, ("text", "json"))
    folder = directory or settings(ctx).rules_dir
    try:
        rules = check_rules(folder)
    except RulesError as exc:
        if fmt == "json":
            typer.echo(json.dumps([p.to_dict() for p in exc.problems], ensure_ascii=False, indent=1))
        else:
            for problem in exc.problems:
                typer.echo(str(problem))
        n = len(exc.problems)
        say(f"{n} problem{'s' if n != 1 else ''} in {folder}")
        raise typer.Exit(2) from None
    if fmt == "json":
        typer.echo("[]")
        say(rules.summary())
    else:
        typer.echo(rules.summary())


@app.command("diff")
def rules_diff(ctx: typer.Context,
               new_dir: str = typer.Argument(..., metavar="NEWDIR", help="The changed rules folder."),
               examples: int = typer.Option(3, "--examples", min=0, help="Example leads per transition."),
               fmt: str = opt.TABLE_OR_JSON) -> None:
    """Show what the rules in NEWDIR would change in the store (stage, grade, score band, owner), writing nothing."""
    from ..engine.diff import DIMENSIONS, diff_rules
    from ..rules.loader import load_rules

    check_format(fmt, ("table", "json"))
    s = settings(ctx)
    current = s.rules()
    new = load_rules(new_dir)
    result = diff_rules(s.store(), current, new, s.now, examples=examples)
    if fmt == "json":
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, default=str))
        return
    from rich.table import Table

    out = console()
    out.print(f"{result.changed:,} of {result.leads:,} leads would change")
    for fname, ch in result.rules.items():
        parts = [f"{k}: {', '.join(v)}" for k, v in ch.items() if v]
        out.print(f"{fname}: " + "; ".join(parts))
    for dim in DIMENSIONS:
        rows = result.transitions.get(dim, [])
        if not rows:
            continue
        t = Table(title=dim.replace("_", " "), header_style="bold")
        for col in ("from", "to", "leads", "examples"):
            t.add_column(col, justify="right" if col == "leads" else "left", overflow="fold")
        for tr in rows:
            ex = ", ".join(f"{e['id']}" + (f" {e['email']}" if e.get("email") else "") for e in tr.examples)
            t.add_row(tr.from_ or "-", tr.to or "-", f"{tr.count:,}", ex)
        out.print(t)
