"""`leadctl leads` commands: show, merge, forget (list, explain, stage and assign live beside)."""
from __future__ import annotations

import json
from typing import Optional

import typer

from ..fields import PROFILE
from . import options as opt
from .context import settings
from .render import check_format, console, jsonable, safe_text, say

app = typer.Typer(help="Work the queue: list, show, explain, stage, assign, merge and forget leads.",
                  no_args_is_help=True)



@app.command("show")
def leads_show(ctx: typer.Context, lead: str = typer.Argument(..., help="Lead id, e-mail or external id."),
               fmt: str = opt.TABLE_OR_JSON) -> None:
    """Show a lead: profile, attributes, stage history, activities, follow-ups, assignments."""
    from ..engine.leadops import show_lead

    check_format(fmt, ("table", "json"))
    data = show_lead(settings(ctx).store(), lead)
    if fmt == "json":
        out = {k: data.get(k) for k in PROFILE}
        out["attributes"] = data.get("attributes") or {}
        out["enriched"] = data.get("enriched") or {}
        out["segments"] = data.get("segments") or []
        for k in ("identifiers", "possible_duplicates", "history", "activities", "followups", "assignments"):
            out[k] = [{kk: jsonable(vv) for kk, vv in row.items()} for row in data[k]]
        typer.echo(json.dumps({k: jsonable(v) for k, v in out.items()}, ensure_ascii=False))
        return
    _render_show(data)


def _render_show(data: dict) -> None:
    from rich.table import Table

    from .render import cell_text

    c = console()
    name = " ".join(x for x in (data.get("first_name"), data.get("last_name")) if x) or "(no name)"
    from rich.text import Text

    c.print(Text.assemble((f"Lead {data['id']}", "bold"), " — ", safe_text(name)))
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="dim")
    t.add_column()
    from ..enrichment import EXTRA, origins

    came = origins(data)  # an enriched value says where it came from
    for k in PROFILE[1:]:
        if data.get(k) not in (None, ""):
            t.add_row(k, cell_text(data[k]) + (f" (from {came[k]})" if k in came else ""))
    for k in EXTRA:
        if k in came:
            t.add_row(k, f"{cell_text(data['enriched'][k]['value'])} (from {came[k]})")
    for k, v in sorted((data.get("attributes") or {}).items()):
        t.add_row(f"attributes.{k}", cell_text(v))
    if data.get("segments"):
        t.add_row("segments", cell_text(", ".join(data["segments"])))
    c.print(t)
    sections = (
        ("Imported with", data["identifiers"], ("kind", "system", "value")),
        ("Possible duplicates", data["possible_duplicates"], ("lead", "reason")),
        ("Stage history", data["history"], ("at", "from_stage", "to_stage", "cause", "detail")),
        ("Activities (latest first)", data["activities"], ("at", "type", "note", "source")),
        ("Open follow-ups", data["followups"], ("id", "due_at", "action", "cadence", "step", "owner")),
        ("Assignments (latest first)", data["assignments"], ("at", "owner", "reason")),
    )
    for title, rows, cols in sections:
        if not rows:
            continue
        st = Table(title=title, title_justify="left", header_style="bold")
        for col in cols:
            st.add_column(col)
        for row in rows:
            st.add_row(*(cell_text(row.get(col)) for col in cols))
        c.print(st)


@app.command("merge")
def leads_merge(ctx: typer.Context, keep: str = typer.Argument(..., help="The lead that stays."),
                other: str = typer.Argument(..., help="The lead merged into it and removed."),
                yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")) -> None:
    """Merge OTHER into KEEP: KEEP's values win, OTHER fills gaps; history and activities move over."""
    from ..engine.leadops import merge_leads
    from ..engine.leadref import describe_lead, resolve_lead

    s = settings(ctx)
    store = s.store()
    keep_id, other_id = resolve_lead(store, keep), resolve_lead(store, other)
    say(f"keeping {describe_lead(store, keep_id)}; merging {describe_lead(store, other_id)} into it")
    if not yes and not typer.confirm("Merge them? The second lead is removed", default=False, err=True):
        raise typer.Exit(1)
    r = merge_leads(store, f"id:{keep_id}", f"id:{other_id}", now=s.now)
    filled = ", ".join(r["filled"]) or "nothing"
    say(f"merged lead {r['removed']} into lead {r['kept']} (filled: {filled})")


@app.command("forget")
def leads_forget(ctx: typer.Context,
                 lead: Optional[str] = typer.Argument(None, help="Lead id, e-mail or external id."),
                 yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
                 inactive_since: Optional[str] = typer.Option(
                     None, "--inactive-since", help="Instead of LEAD: every lead without activity for AGE (3y, 18mo, "
                                                    "90d) or since a date."),
                 stage: Optional[str] = typer.Option(None, "--stage", help="Instead of LEAD: every lead in STAGE "
                                                                           "(with --inactive-since: both)."),
                 segment: Optional[str] = typer.Option(None, "--segment", help="Instead of LEAD: every lead in "
                                                       "segment NAME (rules/segments.yaml; with the others: all)."),
                 dry_run: bool = typer.Option(False, "--dry-run", help="Count the leads it would erase; erase none."),
                 ) -> None:
    """Erase a person's personal data (right to erasure), keeping anonymous counts for reports."""
    from ..engine.leadops import forget_lead
    from ..engine.leadref import describe_lead, resolve_lead

    s = settings(ctx)
    if lead is None or inactive_since or stage or segment:  # retention: many leads at once (leadctl/retention.py)
        from .retention import forget_many_cli

        forget_many_cli(ctx, lead, inactive_since=inactive_since, stage=stage, segment=segment, dry_run=dry_run,
                        yes=yes)
        return
    store = s.store()
    lead_id = resolve_lead(store, lead)
    if dry_run:
        say(f"would erase the personal data of {describe_lead(store, lead_id)} (dry run: nothing changed)")
        return
    if not yes and not typer.confirm(f"Erase the personal data of {describe_lead(store, lead_id)}? "
                                     "This cannot be undone", default=False, err=True):
        raise typer.Exit(1)
    r = forget_lead(store, f"id:{lead_id}", now=s.now)
    say(f"lead {r['lead']}: personal data erased ({r['fields_erased']} fields, "
        f"{r['activities_erased']} activities); anonymous facts kept for reports")
    say("note: rejects files written by earlier imports, and the export files themselves, are outside the "
        "database: delete the person's rows there too; importing such a file again would bring them back")
