"""`leadctl leads forget --inactive-since AGE | --stage STAGE | --segment NAME`: retention, many leads at once."""
from __future__ import annotations

import typer

from .context import settings
from .render import emit_rows, say
from .segments import segment_option


def forget_many_cli(ctx: typer.Context, lead: str | None, *, inactive_since: str | None, stage: str | None,
                    segment: str | None, dry_run: bool, yes: bool) -> None:
    """Count, confirm and erase the leads a retention rule names (LEAD is refused beside the options)."""
    from ..errors import UsageError
    from ..retention import forget_selected, inactive_cutoff, select_leads

    if lead is not None:
        raise UsageError("give one LEAD, or --inactive-since/--stage/--segment for many, not both")
    s = settings(ctx)
    segment = segment_option(ctx, segment)
    cutoff = inactive_cutoff(inactive_since, s.now) if inactive_since else None
    store = s.store()
    chosen = select_leads(store, inactive_since=cutoff, stage=stage, segment=segment)
    what = " and ".join(filter(None, [f"without activity since {cutoff:%Y-%m-%d}" if cutoff else "",
                                      f"in stage {stage}" if stage else "",
                                      f"in segment {segment}" if segment else ""]))
    emit_rows(("stage", "leads"), sorted(chosen.by_stage.items()), fmt="table",
              title=f"Leads {what}: {len(chosen.ids)}")
    if dry_run or not chosen.ids:
        say(f"{'would erase' if chosen.ids else 'nothing to erase:'} the personal data of {len(chosen.ids)} "
            f"leads {what}" + (" (dry run: nothing changed)" if chosen.ids else ""))
        return
    if not yes and not typer.confirm(f"Erase the personal data of {len(chosen.ids)} leads? This cannot be undone",
                                     default=False, err=True):
        raise typer.Exit(1)
    done = forget_selected(store, chosen, now=s.now)
    say(f"personal data of {done.erased} leads erased; anonymous facts kept for reports")
