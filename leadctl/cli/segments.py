"""`--segment NAME` for the commands that filter leads (rules/segments.yaml, engine/segments.py)."""
from __future__ import annotations

import typer

from .context import settings

SEGMENT = typer.Option(None, "--segment", help="Only leads in this segment (rules/segments.yaml).")


def segment_option(ctx: typer.Context, name: str | None) -> str | None:
    """The segment `--segment` names, checked against the rules (an unknown name exits 2, listing the known)."""
    if name is None:
        return None
    from ..engine.segments import resolve_segment

    return resolve_segment(settings(ctx).rules(), name)
