"""`leadctl leads duplicates`: review likely duplicates store-wide, write a merge plan, apply it."""
from __future__ import annotations

from typing import Optional

import typer

from . import options as opt
from .context import settings
from .leads import app as leads_app
from .render import check_format, check_output, emit_rows, say

app = typer.Typer(help="Likely duplicates among stored leads, with evidence; plan, review and apply their merge.",
                  invoke_without_command=True)
leads_app.add_typer(app, name="duplicates")


_PLAN = typer.Option(None, "--plan", help="Write a merge plan to FILE (.csv or .yaml) to review and then apply.")
_MIN_SCORE = typer.Option(50, "--min-score", min=1, max=100, help="Only pairs scoring at least N (1–100).")


@app.callback()
def duplicates_root(ctx: typer.Context, plan: Optional[str] = _PLAN, min_score: int = _MIN_SCORE,
                    fmt: str = opt.TABLE_CSV_JSON) -> None:
    """Likely duplicates among stored leads; with no sub-command, find them."""
    if ctx.invoked_subcommand is None:
        duplicates_find(ctx, plan, min_score, fmt)


@app.command("find")
def duplicates_find(ctx: typer.Context, plan: Optional[str] = _PLAN, min_score: int = _MIN_SCORE,
                    fmt: str = opt.TABLE_CSV_JSON) -> None:
    """List likely duplicate pairs with a score and the evidence; --plan writes a merge plan."""
    from ..dedupe.finder import find_pairs

    check_format(fmt)
    if plan is not None:
        check_output(plan, "--plan")
    store = settings(ctx).store()
    pairs = find_pairs(store, min_score=min_score)
    emit_rows(("lead", "other", "score", "evidence"), ([p.a, p.b, p.score, "; ".join(p.evidence)] for p in pairs),
              fmt=fmt, title="Likely duplicates")
    if plan is not None:
        from ..dedupe.plan import build_plan, write_plan

        groups = build_plan(store, pairs)
        write_plan(plan, groups)
        say(f"{len(pairs)} pairs in {len(groups)} groups; merge plan written to {plan}: review it, then "
            f"`leadctl leads duplicates apply {plan}`")
    else:
        say(f"{len(pairs)} likely duplicate pairs" + (" (--plan FILE writes a merge plan)" if pairs else ""))


@app.command("apply")
def duplicates_apply(
    ctx: typer.Context,
    plan: str = typer.Argument(..., metavar="PLAN", help="A reviewed merge plan (.csv or .yaml)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Merge a reviewed plan as one batch (`batches undo` reverts it); remember its not_duplicate pairs."""
    from ..dedupe.merge import apply_plan
    from ..dedupe.plan import read_plan

    groups = read_plan(plan)
    merges = sum(len(g.merge) for g in groups)
    if not yes and not typer.confirm(f"Merge {merges} leads in {len(groups)} groups?", default=False, err=True):
        raise typer.Exit(1)
    s = settings(ctx)
    r = apply_plan(s.store(), groups, now=s.now, files=plan)
    say(f"batch {r.batch}: merged {r.merged} leads into {len(r.survivors)} survivors; "
        f"{r.not_duplicates} pairs remembered as not duplicate (`leadctl batches undo {r.batch}` reverts the merges)")
