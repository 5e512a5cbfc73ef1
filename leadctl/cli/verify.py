"""`leadctl leads verify`: recompute the data-quality flags; `--mx` also checks mail domains (registered on `leads`)."""
from __future__ import annotations

import typer

from . import options as opt
from .context import settings
from .leads import app
from .render import check_format, emit_rows, say


@app.command("verify")
def leads_verify(ctx: typer.Context,
                 mx: bool = typer.Option(False, "--mx", help="Also look up the MX records of the leads' mail "
                                                             "domains (needs the network)."),
                 fmt: str = opt.TABLE_CSV_JSON) -> None:
    """Recompute every lead's data-quality flags (offline) and count the leads carrying each."""
    from ..quality.flags import FLAGS, flag_counts, refresh_flags

    check_format(fmt)
    store = settings(ctx).store()
    with store.begin() as conn:
        changed = refresh_flags(conn)
    counts = flag_counts(store)
    emit_rows(("flag", "leads", "meaning"), ([f, counts.get(f, 0), FLAGS[f]] for f in FLAGS), fmt=fmt,
              title="Data-quality flags")
    say(f"flags recomputed: {changed} leads changed; `leadctl leads list --flag NAME` lists them")
    if mx:
        from ..quality.mx import check_mx_records

        result = check_mx_records(store)
        if result.offline:
            say(f"MX check skipped: {result.offline}")
            return
        emit_rows(("domain", "leads", "problem"), ([d, n, why] for d, n, why in result.problems), fmt=fmt,
                  title=f"Mail domains without a working MX record ({len(result.problems)} of {result.checked})")
