"""`leadctl leads list`: the queue, filtered and sorted (registered on the `leads` group)."""
from __future__ import annotations

from typing import Optional

import typer

from . import options as opt
from .context import from_option, settings
from .leads import app
from .render import check_format, emit_rows, say
from .segments import SEGMENT, segment_option

TABLE_LIMIT = 50


def lead_filter(*, stage=None, owner=None, source=None, min_score=None, max_score=None, search=None, since=None,
                until=None, sort=None, limit=None, flag=None):
    """A LeadFilter from command-line text (dates parsed, `--until DATE` covering that whole day)."""
    from ..clock import parse_when
    from ..engine.leadquery import LeadFilter, sort_column

    with from_option("--sort"):  # an unknown field is named before the store is opened
        for part in (sort or "").split(","):
            if part.strip():
                sort_column(part)
    return LeadFilter(stage=stage, owner=owner, source=source, min_score=min_score, max_score=max_score,
                      search=search, since=parse_when(since, "--since"), until=parse_when(until, "--until", end=True),
                      sort=sort, limit=limit, flag=flag)


@app.command("list")
def leads_list(
    ctx: typer.Context,
    stage: Optional[str] = opt.STAGE,
    owner: Optional[str] = opt.OWNER,
    mine: bool = typer.Option(False, "--mine", help="Only my leads: owner $LEADCTL_OWNER, else my login name."),
    source: Optional[str] = opt.SOURCE,
    min_score: Optional[int] = opt.MIN_SCORE,
    max_score: Optional[int] = opt.MAX_SCORE,
    search: Optional[str] = opt.SEARCH,
    since: Optional[str] = opt.SINCE,
    until: Optional[str] = opt.UNTIL,
    sort: str = typer.Option("-created_at", "--sort", help="Field to sort by; prefix - for descending."),
    limit: Optional[int] = typer.Option(None, "--limit", min=0,
                                        help="At most N leads, 0 = all (default 50 in a table, all in csv/json)."),
    fmt: str = typer.Option("table", "--format", help="table | csv | json."),
    flag: Optional[str] = typer.Option(None, "--flag", help="Only leads with this data-quality flag "
                                                            "(role_account, free_mail …; `leads verify` counts them)."),
    segment: Optional[str] = SEGMENT,
) -> None:
    """List leads with filters, sorting and a limit."""
    from ..engine.leadquery import LIST_COLUMNS, list_leads

    check_format(fmt)
    if mine:
        import getpass
        import os

        owner = os.environ.get("LEADCTL_OWNER") or getpass.getuser()
    if limit is None and fmt == "table":
        limit = TABLE_LIMIT
    flt = lead_filter(stage=stage, owner=owner, source=source, min_score=min_score, max_score=max_score,
                      search=search, since=since, until=until, sort=sort, limit=limit, flag=flag)
    flt.segment = segment_option(ctx, segment)
    st = settings(ctx)
    page = list_leads(st.store(), flt, count=fmt == "table")
    rows, total = page.rows, page.total
    columns = list(LIST_COLUMNS)
    if fmt == "table":
        at = columns.index("predicted")
        if _shows_prediction(st.rules_dir, flt):
            rows = [(*r[:at], _percent(r[at]), *r[at + 1:]) for r in rows]
        else:  # no model and not sorted by it: a column that would always be empty
            rows = [(*r[:at], *r[at + 1:]) for r in rows]
            del columns[at]
    headers = [h.replace("_", " ").title() if h != "id" else "ID" for h in columns]
    title = f"{len(rows)} lead{'s' if len(rows) != 1 else ''}" + (f" ({flt.describe()})" if flt.describe() else "")
    emit_rows(columns, rows, fmt=fmt, title=title if fmt == "table" else None, headers=headers)
    if total is not None and total > len(rows):
        say(f"showing {len(rows)} of {total} leads; use --limit N (0 = all) or --format csv for more")


def _shows_prediction(rules_dir, flt) -> bool:
    """The table shows `Predicted` when the rules folder has a model or the list is sorted by it."""
    import os

    from ..engine.leadquery import sorts_by
    from ..model.model import MODEL_FILE

    return sorts_by(flt, "predicted") or os.path.isfile(os.path.join(str(rules_dir), MODEL_FILE))


def _percent(value) -> str:
    """A probability 0-1 as a whole percentage ('' when none)."""
    return "" if value is None else f"{100 * float(value):.0f}%"
