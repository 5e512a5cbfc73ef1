"""`leadctl leads assign LEAD OWNER`: a manual assignment that routing rules never undo."""
from __future__ import annotations

import typer

from .context import settings
from .leads import app
from .render import say


@app.command("assign")
def leads_assign(ctx: typer.Context, lead: str = typer.Argument(..., help="Lead id, e-mail or external id."),
                 owner: str = typer.Argument(..., help="Owner name or e-mail from routing.yaml.")) -> None:
    """Assign a lead to an owner by hand; rules never move it (an SLA reassignment can)."""
    from ..engine.routing import assign_lead

    s = settings(ctx)
    r = assign_lead(s.store(), s.rules(), lead, owner, now=s.now)
    was = f" (was {r.previous_owner})" if r.previous_owner else ""
    say(f"lead {r.lead_id} assigned to {r.owner}{was}")
    if r.note:
        say(f"note: {r.note}")
