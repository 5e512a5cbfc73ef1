"""`leadctl model fit`: learn rules/model.yaml from the leads whose outcome is known."""
from __future__ import annotations

import json
import os
from typing import List, Optional

import typer

from .context import settings
from .render import check_format, say

app = typer.Typer(help="Learn a predictive model (rules/model.yaml) from won and lost leads.", no_args_is_help=True)


@app.command("fit")
def model_fit(
    ctx: typer.Context,
    holdout: float = typer.Option(0.2, "--holdout", help="Share of the most recent leads (by creation) held out."),
    open_after: Optional[int] = typer.Option(None, "--open-after", metavar="DAYS",
                                             help="Count open leads at least DAYS old as not won (default: left out)."),
    min_each: int = typer.Option(50, "--min-each", min=1, help="Won and lost leads needed, each."),
    rare: int = typer.Option(20, "--rare", min=1, help="Pool category values seen on fewer training leads."),
    bins: int = typer.Option(5, "--bins", help="Quantile bins per number."),
    c: float = typer.Option(1.0, "--c", help="Inverse regularisation strength (smaller: weights nearer 0)."),
    after_contact: List[str] = typer.Option([], "--after-contact", metavar="FACT",
                                            help="A fact known only after contact: refused (repeatable)."),
    exclude: List[str] = typer.Option([], "--exclude", metavar="FACT", help="Leave a fact out (repeatable)."),
    mappings: List[str] = typer.Option([], "--mapping", metavar="FILE",
                                       help="An import mapping whose columns marked after_contact: true are "
                                            "refused (repeatable)."),
    output: Optional[str] = typer.Option(None, "--output",
                                         help="Where to write the model (default: RULES/model.yaml)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Fit and report, write nothing."),
    fmt: str = typer.Option("text", "--format", help="text | json."),
) -> None:
    """Fit a logistic regression on won vs lost leads, validate it on the most recent ones, write model.yaml."""
    from ..model.fit import FitOptions, fit_model
    from ..model.model import MODEL_FILE, dump_model, load_model

    check_format(fmt, ("text", "json"))
    s = settings(ctx)
    rules = s.rules()
    current = load_model(rules.directory)
    declared = list(current.info.get("after_contact", [])) if current is not None else []
    for path in mappings:
        from ..ingest.headers import load_mapping

        declared += [c.field for c in load_mapping(path).columns.values() if c.after_contact]
    options = FitOptions(holdout=holdout, open_after_days=open_after, min_each=min_each, rare=rare, bins=bins, c=c,
                         after_contact=tuple(dict.fromkeys([*declared, *after_contact])), exclude=tuple(exclude))
    result = fit_model(s.store(), rules, now=s.now, options=options)
    path = output or os.path.join(rules.directory, MODEL_FILE)
    if not dry_run:
        from ..errors import os_error

        try:
            dump_model(result.model, path)
        except OSError as exc:
            raise os_error(exc, option="--output", path=path) from exc
    for w in result.warnings:
        say(f"warning: {w}")
    info = result.model.info
    if fmt == "json":
        from ..model.metrics import verdict

        held = info["validation"].get("model") or {}
        typer.echo(json.dumps({"written": None if dry_run else path, "warnings": result.warnings,
                               "intercept": result.model.intercept, "features": result.model.facts,
                               "training": info["training"], "validation": info["validation"],
                               "left_out": info["left_out"], "verdict": verdict(held.get("auc"))},
                              ensure_ascii=False, default=str))
        return
    for line in fit_summary(result.model, written=None if dry_run else path):
        typer.echo(line)


def fit_summary(model, *, written: str | None) -> list[str]:
    """What a fit learnt and how well it ranks the held-out leads, in a few lines."""
    from ..model.metrics import verdict

    t = model.info["training"]
    v = model.info["validation"]
    lines = [f"fitted on {t['leads']:,} leads ({t['won']:,} won, {t['lost']:,} lost) created "
             f"{t['window']['from'][:10]} to {t['window']['to'][:10]}; open leads {t['open_leads']}"]
    m, h = v.get("model"), v.get("hand_written_score")
    if m:
        lines.append(f"held out {m['leads']:,} leads created from {v['holdout_from'][:10]} ({m['won']:,} won): "
                     f"AUC {_f(m['auc'])} (hand-written score {_f(h['auc'] if h else None)}), "
                     f"log loss {_f(m['log_loss'])}, lift at top 10/20/30 %: "
                     + " / ".join(_f(m['lift'][k], 2) for k in ("top_10", "top_20", "top_30")))
        lines.append(f"verdict: {verdict(m['auc']) or 'not measured (the held-out leads are all won or all lost)'}")
    lines.append(f"{'wrote ' + written if written else 'dry run: nothing written'}: intercept "
                 f"{model.intercept:.3f}, {len(model.features)} features ({', '.join(model.facts)})")
    refused = [x for x in model.info["left_out"] if x["reason"].startswith("refused")]
    for x in refused:
        lines.append(f"left out {x['fact']}: {x['reason']}")
    return lines


def _f(x, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"
