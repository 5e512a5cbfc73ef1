"""`leadctl leads consent LEAD --email opted_out --reason …`: consent per channel, set by hand."""
from __future__ import annotations

from typing import Optional

import typer

from .context import settings
from .leads import app
from .render import say

_STATUS_HELP = "granted, unknown, opted_out or bounced"


@app.command("consent")
def leads_consent(ctx: typer.Context, lead: str = typer.Argument(..., help="Lead id, e-mail or external id."),
                  email: Optional[str] = typer.Option(None, "--email", help=f"E-mail consent: {_STATUS_HELP}."),
                  phone: Optional[str] = typer.Option(None, "--phone", help=f"Phone consent: {_STATUS_HELP}."),
                  sms: Optional[str] = typer.Option(None, "--sms", help=f"SMS consent: {_STATUS_HELP}."),
                  reason: Optional[str] = typer.Option(None, "--reason", help="Why (kept with the date).")) -> None:
    """Set a lead's consent per channel; pending tasks of a channel no longer allowed are skipped."""
    from ..engine.consent import set_consent

    s = settings(ctx)
    changes = {c: v.strip().lower().replace("-", "_").replace(" ", "_")
               for c, v in (("email", email), ("phone", phone), ("sms", sms)) if v is not None}
    r = set_consent(s.store(), lead, changes, reason=reason, now=s.now)
    say(f"lead {r.lead_id}: " + ", ".join(f"{c} {st}" for c, st in r.statuses.items()))
    if r.tasks_skipped:
        say(f"{r.tasks_skipped} pending task(s) skipped")
