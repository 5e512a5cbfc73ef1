"""`leadctl leads explain` and `leadctl leads stage`, registered onto the `leads` group."""
from __future__ import annotations

import json
from typing import Optional

import typer

from . import options as opt
from .context import settings
from .leads import app
from .render import check_format, console, safe_text


@app.command("explain")
def leads_explain(ctx: typer.Context, lead: str = typer.Argument(..., help="Lead id, e-mail or external id."),
                  fmt: str = opt.TABLE_OR_JSON) -> None:
    """Explain a lead: every scoring rule that fired, caps and decay, temperature, stage, owner, tasks."""
    from ..engine.explain import explain_lead

    check_format(fmt, ("table", "json"))
    s = settings(ctx)
    info = explain_lead(s.store(), s.rules(), lead, s.now)
    if fmt == "json":
        typer.echo(json.dumps(info, ensure_ascii=False, default=str))
        return
    _render(info)


def _render(info: dict) -> None:
    from rich.table import Table

    out = console()
    lead = info["lead"]
    name = " ".join(x for x in (lead.get("first_name"), lead.get("last_name")) if x)
    from rich.text import Text

    out.print(Text.assemble((f"Lead {lead['id']}", "bold"),
                            safe_text(f" {name} {lead.get('email') or ''}".rstrip())))
    sc = info["score"]
    out.print(f"score {sc['score']}  grade {sc['grade'] or '-'}  temperature {info['temperature']['value'] or '-'}"
              f"  stage {info['stage']['value']}  owner {lead.get('owner') or '-'}")
    if not sc["stored"]:
        out.print("no stored score breakdown yet: run `leadctl process`")
    else:
        t = Table(title="Score", header_style="bold")
        t.add_column("group")
        t.add_column("rule", overflow="fold")
        t.add_column("points", justify="right")
        for group in ("fit", "engagement"):
            for item in sc.get(group) or []:
                count = f" (×{item['count']})" if item.get("count") is not None else ""
                t.add_row(group, item["rule"] + count, str(item["points"]))
        t.add_row("fit", "total" + (f" (max {sc['fit_max']})" if sc.get("fit_max") is not None else ""),
                  str(sc.get("fit_capped")))
        eng = f"{sc.get('engagement_raw')}"
        if sc.get("decay_factor") not in (None, 1, 1.0):
            eng += f" × decay {sc['decay_factor']} ({sc.get('idle_days')} days idle)"
        if sc.get("engagement_max") is not None:
            eng += f", max {sc['engagement_max']}"
        t.add_row("engagement", "total: " + eng, str(sc.get("engagement_capped")))
        bounds = ""
        if sc.get("total_min") is not None or sc.get("total_max") is not None:
            bounds = f" (clamped to {sc.get('total_min', '')}…{sc.get('total_max', '')})"
        t.add_row("score", f"{sc.get('total_raw')}{bounds}", str(sc["score"]))
        out.print(t)
        when = f" as of {sc['computed_at']}" if sc.get("computed_at") else ""
        stale = " — rules changed since; run `leadctl process`" if sc.get("stale") else ""
        out.print(f"breakdown{when}{stale}")
    out.print(f"temperature: {info['temperature']['value'] or '-'}"
              + (f" (rule '{info['temperature']['rule']}')" if info["temperature"]["rule"] else ""))
    rule = info["stage"].get("rule")
    out.print(f"stage: {info['stage']['value']}" + (f" — {rule['detail']}" if rule else ""))
    pred = info.get("predicted")
    if pred:  # the model's reasons (rules/model.yaml), strongest first
        out.print(f"predicted: {pred['probability']:.0%} chance of winning")
        for sign, key in (("+", "up"), ("-", "down")):
            for f in pred[key]:
                out.print(Text(f"  {sign} {safe_text(f['words'])}"))
    _table(out, "Stage history", ("at", "from", "to", "cause", "detail"), info["stage_history"])
    _table(out, "Assignments", ("at", "owner", "rule", "strategy", "reason"), info["assignments"])
    _table(out, "Follow-ups due", ("id", "due_at", "action", "cadence", "owner", "note"), info["followups"])
    _table(out, "Follow-ups skipped", ("id", "due_at", "action", "cadence", "reason"),
           info.get("followups_skipped", []))


def _table(out, title: str, cols: tuple, rows: list) -> None:
    if not rows:
        return
    from rich.table import Table

    t = Table(title=title, header_style="bold")
    for c in cols:
        t.add_column(c.replace("_", " "), overflow="fold")
    for r in rows:
        t.add_row(*("" if r.get(c) is None else safe_text(str(r.get(c))) for c in cols))
    out.print(t)


@app.command("stage")
def leads_stage(ctx: typer.Context, lead: str = typer.Argument(..., help="Lead id, e-mail or external id."),
                stage: str = typer.Argument(..., help="Stage name or alias."),
                reason: Optional[str] = typer.Option(
                    None, "--reason", help="Why (kept in the stage history); to a lost stage: a reason of "
                                           "stages.yaml's lost_reasons."),
                force: bool = typer.Option(False, "--force", help="Allow a move back in the funnel.")) -> None:
    """Move a lead to a stage by hand (forward only unless --force)."""
    from ..engine.stages import set_stage

    s = settings(ctx)
    result = set_stage(s.store(), lead, stage, reason=reason, force=force, now=s.now, stages=s.rules().stages)
    typer.echo(result.summary())
