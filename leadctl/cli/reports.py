"""`leadctl report` commands: funnel, sources, owners, scoring.

Each command builds a filter, calls one core function in `leadctl.reports`, and
renders: a Rich table with bars (the funnel drawn centred, as a funnel), or
`--format csv|json` for scripts; `--output FILE` writes the same to a file and
`--svg FILE` / `--html FILE` save the rendered table.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Optional, Sequence

import typer

from . import options as opt
from .context import settings

app = typer.Typer(help="Funnel, source, owner and scoring reports.", no_args_is_help=True)

BAR_WIDTH = 16
_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(value: float | None, top: float | None, width: int = BAR_WIDTH) -> str:
    """A left-aligned bar of block characters, `value / top` of `width` (eighth-block precision)."""
    if not value or not top or value <= 0:
        return ""
    eighths = max(1, round(min(value / top, 1.0) * width * 8))
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")


def centred_bar(value: float | None, top: float | None, width: int = 30) -> str:
    """A bar of whole blocks, padded on both sides so stacked bars draw a funnel."""
    if not value or not top or value <= 0:
        return " " * width
    n = max(1, round(min(value / top, 1.0) * width))
    if (width - n) % 2:
        n = min(width, n + 1)
    pad = (width - n) // 2
    return " " * pad + "█" * n + " " * pad


def _rules_or_none(ctx: typer.Context):
    """The rule set, or None when the rules folder does not exist (reports then use the default stages)."""
    st = settings(ctx)
    if not Path(st.rules_dir).is_dir():
        return None
    return st.rules()


def _filter(since, until, source, owner, stage):
    from .listing import lead_filter

    return lead_filter(since=since, until=until, source=source, owner=owner, stage=stage)


def _title(name: str, flt, extra: str = "") -> str:
    if flt.since or flt.until:
        window = f"created {flt.since:%Y-%m-%d} " if flt.since else "created up "
        window += f"to {flt.until:%Y-%m-%d %H:%M}" if flt.until else "to now"
        window = window.replace(" 00:00", "")
    else:
        window = "all time"
    named = (("source", flt.source), ("owner", flt.owner), ("stage", flt.stage))
    filters = ", ".join(f"{k}={v}" for k, v in named if v)
    return f"{name} — {window}" + (f" · {filters}" if filters else "") + (f" · {extra}" if extra else "")


def _fmt(value: Any, suffix: str = "") -> str:
    from .render import cell_text

    if value is None:
        return ""
    return cell_text(value) + suffix


def _deliver(table, *, fmt: str, columns: Sequence[str], records: list[tuple], output: str | None,
             svg: str | None, html: str | None) -> None:
    """Print (or write) the report in `fmt`, and save the rendered table as SVG/HTML when asked."""
    from .render import console, emit_rows, output_file

    if fmt in ("csv", "json"):
        emit_rows(columns, records, fmt=fmt, output=output)
    elif output and output != "-":
        from rich.console import Console

        with output_file(output, "--output") as fh:
            Console(file=fh, width=_width(), no_color=True, highlight=False, markup=False).print(table)
    else:
        console().print(table)
    if svg or html:
        from rich.console import Console

        rec = Console(record=True, file=io.StringIO(), width=_width(), highlight=False, markup=False)
        rec.print(table)
        if svg:
            with output_file(svg, "--svg") as fh:
                fh.write(rec.export_svg(title="leadctl", clear=False))
        if html:
            with output_file(html, "--html") as fh:
                fh.write(rec.export_html(clear=False))


def _check_outputs(output: str | None, svg: str | None, html: str | None) -> None:
    """Refuse files that cannot be written before the report is computed."""
    from .render import check_output

    for path, option in ((output, "--output"), (svg, "--svg"), (html, "--html")):
        check_output(path, option)


def _width() -> int:
    import os

    return int(os.environ.get("LEADCTL_WIDTH") or 120)


def _table(title: str, headers: Sequence[tuple[str, str]]):
    from rich.table import Table

    t = Table(title=title, header_style="bold", title_justify="left")
    for h, justify in headers:
        if h in _BAR_HEADERS:  # bars give way first when the terminal is narrow
            t.add_column(h, justify=justify, no_wrap=True, overflow="crop")
        else:
            t.add_column(h, justify=justify, no_wrap=True, min_width=len(h))
    return t


_BAR_HEADERS = ("Funnel", "", "Load")


_SINCE, _UNTIL, _SOURCE, _OWNER, _STAGE, _OUTPUT = opt.SINCE, opt.UNTIL, opt.SOURCE, opt.OWNER, opt.STAGE, opt.OUTPUT
_FORMAT = typer.Option("table", "--format", help="table | csv | json.")
_SVG = typer.Option(None, "--svg", help="Also save the rendered table as SVG.")
_HTML = typer.Option(None, "--html", help="Also save the rendered table as HTML.")


@app.command("funnel")
def report_funnel(
    ctx: typer.Context,
    since: Optional[str] = _SINCE, until: Optional[str] = _UNTIL, source: Optional[str] = _SOURCE,
    owner: Optional[str] = _OWNER, stage: Optional[str] = _STAGE,
    by: Optional[str] = typer.Option(None, "--by", help="One funnel per creation cohort: week | month."),
    strict: bool = typer.Option(False, "--strict",
                                help="Count a stage only when every earlier stage was passed in order."),
    fmt: str = _FORMAT, output: Optional[str] = _OUTPUT, svg: Optional[str] = _SVG, html: Optional[str] = _HTML,
) -> None:
    """Leads reaching each stage, conversion, drop-off and time in stage (median, p90)."""
    from ..reports.common import stage_list
    from ..reports.funnel import funnel_report
    from .render import check_format

    check_format(fmt)
    _check_outputs(output, svg, html)
    if by is not None and by not in ("week", "month"):
        raise typer.BadParameter(f"'{by}' is not one of week, month", param_hint="--by")
    st = settings(ctx)
    flt = _filter(since, until, source, owner, stage)
    report = funnel_report(st.store(), stage_list(_rules_or_none(ctx)), flt, now=st.now, by=by, strict=strict)
    extra = ", ".join(x for x in (f"by {by}" if by else "", "strict" if strict else "") if x)
    headers = ([("Cohort    ", "left")] if by else []) + [
        ("Stage", "left"), ("Funnel", "center"), ("Reached", "right"), ("Next %", "right"), ("Cumul. %", "right"),
        ("Drop-off", "right"), ("Median d", "right"), ("P90 d", "right")]
    table = _table(_title("Funnel", flt, extra), headers)
    # The funnel takes the width the numbers leave (a wider terminal, a wider funnel).
    bar_w = max(8, min(40, _width() - (100 if by else 86)))
    for cohort in report.cohorts:
        rows = [r for r in report.rows if r.cohort == cohort]
        top = max((r.reached for r in rows if r.kind != "lost"), default=0)
        if by and rows and cohort != report.cohorts[0]:
            table.add_section()
        lost_started = False
        for r in rows:
            if r.kind == "lost" and not lost_started:
                lost_started = True
                if not by:
                    table.add_section()
            picture = bar(r.reached, top, bar_w // 2) if r.kind == "lost" else centred_bar(r.reached, top, bar_w)
            name = (r.label if len(r.label) <= 14 else r.stage) + (" (lost)" if r.kind == "lost" else "")
            cells = [name, picture, _fmt(r.reached),
                     _fmt(r.next_conversion_pct), _fmt(r.cumulative_conversion_pct), _fmt(r.drop_off),
                     _fmt(r.median_days), _fmt(r.p90_days)]
            table.add_row(*(([r.cohort or ""] if by else []) + cells))
    _deliver(table, fmt=fmt, columns=report.columns(), records=report.records(), output=output, svg=svg, html=html)


@app.command("sources")
def report_sources(
    ctx: typer.Context,
    since: Optional[str] = _SINCE, until: Optional[str] = _UNTIL, source: Optional[str] = _SOURCE,
    owner: Optional[str] = _OWNER, stage: Optional[str] = _STAGE,
    fmt: str = _FORMAT, output: Optional[str] = _OUTPUT, svg: Optional[str] = _SVG, html: Optional[str] = _HTML,
) -> None:
    """Per source: leads, qualified, won, won rate, score, first response, spend and cost per lead/won."""
    from ..reports.common import stage_list
    from ..reports.sources import TOTAL_LABEL, source_infos, sources_report
    from .render import check_format

    check_format(fmt)
    _check_outputs(output, svg, html)
    rules = _rules_or_none(ctx)
    flt = _filter(since, until, source, owner, stage)
    report = sources_report(settings(ctx).store(), stage_list(rules), source_infos(rules), flt)
    top = max((r.leads for r in report.rows if r.source != TOTAL_LABEL), default=0)
    table = _table(_title("Sources", flt), [
        ("Source", "left"), ("Leads", "right"), ("", "left"), (report.mql_stage or "MQL", "right"),
        (report.sql_stage or "SQL", "right"), ("Won", "right"), ("Lost", "right"), ("Won %", "right"),
        ("Score", "right"), ("Resp h", "right"), ("Spend", "right"), ("CPL", "right"),
        ("CPW", "right")])
    for r in report.rows:
        if r.source == TOTAL_LABEL:
            table.add_section()
        leads_bar = bar(r.leads, top, max(4, min(20, _width() - 112))) if r.source != TOTAL_LABEL else ""
        table.add_row(r.source, _fmt(r.leads), leads_bar,
                      _fmt(r.reached_mql), _fmt(r.reached_sql), _fmt(r.won), _fmt(r.lost), _fmt(r.won_rate_pct),
                      _fmt(r.avg_score), _fmt(r.median_first_response_hours), _fmt(r.spend), _fmt(r.cost_per_lead),
                      _fmt(r.cost_per_won))
    _deliver(table, fmt=fmt, columns=report.columns(), records=report.records(), output=output, svg=svg, html=html)


@app.command("owners")
def report_owners(
    ctx: typer.Context,
    since: Optional[str] = _SINCE, until: Optional[str] = _UNTIL, source: Optional[str] = _SOURCE,
    owner: Optional[str] = _OWNER, stage: Optional[str] = _STAGE,
    fmt: str = _FORMAT, output: Optional[str] = _OUTPUT, svg: Optional[str] = _SVG, html: Optional[str] = _HTML,
) -> None:
    """Per owner: open leads against capacity, assignments, first response, SLA breaches, wins."""
    from ..reports.common import stage_list
    from ..reports.owners import owners_report
    from .render import check_format

    check_format(fmt)
    _check_outputs(output, svg, html)
    flt = _filter(since, until, source, owner, stage)
    report = owners_report(settings(ctx).store(), stage_list(_rules_or_none(ctx)), flt)
    table = _table(_title("Owners", flt), [
        ("Owner", "left"), ("Team", "left"), ("Open", "right"), ("Capacity", "right"), ("Load", "left"),
        ("Leads", "right"), ("Assigned", "right"), ("Contacted", "right"), ("1st resp. h", "right"),
        ("SLA breaches", "right"), ("Won", "right"), ("Won %", "right")])
    top_open = max((r.open_leads for r in report.rows), default=0)
    for r in report.rows:
        # Load bar: against capacity when there is one, else against the busiest owner.
        load = bar(r.open_leads, r.capacity or top_open, BAR_WIDTH // 2)
        if r.load_pct is not None:
            load += f" {r.load_pct:g}%"
        table.add_row(r.owner, r.team or "", _fmt(r.open_leads), _fmt(r.capacity), load, _fmt(r.leads),
                      _fmt(r.assigned), _fmt(r.contacted), _fmt(r.median_first_response_hours),
                      _fmt(r.sla_breaches), _fmt(r.won), _fmt(r.won_rate_pct))
    _deliver(table, fmt=fmt, columns=report.columns(), records=report.records(), output=output, svg=svg, html=html)


@app.command("scoring")
def report_scoring(
    ctx: typer.Context,
    since: Optional[str] = _SINCE, until: Optional[str] = _UNTIL, source: Optional[str] = _SOURCE,
    owner: Optional[str] = _OWNER, stage: Optional[str] = _STAGE,
    bands: int = typer.Option(10, "--bands", min=1, max=100, help="Number of equal score bands over 0-100."),
    fmt: str = _FORMAT, output: Optional[str] = _OUTPUT, svg: Optional[str] = _SVG, html: Optional[str] = _HTML,
) -> None:
    """Scoring calibration: won rate by score band and by grade, with lift over the overall rate."""
    from ..reports.common import stage_list
    from ..reports.scoring import scoring_report
    from .render import check_format

    check_format(fmt)
    _check_outputs(output, svg, html)
    flt = _filter(since, until, source, owner, stage)
    report = scoring_report(settings(ctx).store(), stage_list(_rules_or_none(ctx)), flt, bands=bands)
    overall = f"overall won rate {report.won_rate_pct:g}% of {report.leads:,}" if report.won_rate_pct is not None \
        else f"{report.leads:,} leads, none won"
    table = _table(_title("Scoring calibration", flt, overall), [
        ("By", "left"), ("Bucket", "left"), ("Leads", "right"), ("Won", "right"), ("Won %", "right"),
        ("", "left"), ("Lift", "right")])
    top = max((r.won_rate_pct or 0 for r in report.rows), default=0)
    last = None
    for r in report.rows:
        if last is not None and r.dimension != last:
            table.add_section()
        last = r.dimension
        table.add_row(r.dimension, r.bucket, _fmt(r.leads), _fmt(r.won), _fmt(r.won_rate_pct),
                      bar(r.won_rate_pct, top), _fmt(r.lift, "×"))
    _deliver(table, fmt=fmt, columns=report.columns(), records=report.records(), output=output, svg=svg, html=html)


# ---------------------------------------------------------------- attribution, velocity, lost reasons

_PNG = typer.Option(None, "--png", help="Also save the chart as PNG.")


def _pictures(title: str, figures: list, tables: list, *, svg: str | None, png: str | None,
              html: str | None) -> None:
    """Save the report's first chart as SVG/PNG, and every chart with its tables as one HTML page."""
    from ..reports import charts
    from ..reports.html import Section, html_page
    from .render import output_file

    for path, fmt in ((svg, "svg"), (png, "png")):
        if path and figures:
            data = charts.render(figures[0], fmt)
            with open(path, "wb") as fh:  # an aggregate picture: the user's normal file mode
                fh.write(data)
    if html:
        page = html_page(title, [Section(charts=[charts.svg_text(f) for f in figures], tables=tables)])
        with output_file(html, "--html") as fh:
            fh.write(page)


def _check_png(png: str | None) -> None:
    from .render import check_output

    check_output(png, "--png")


def _credit(value) -> str:
    return f"{float(value):,.2f}"


@app.command("attribution")
def report_attribution(
    ctx: typer.Context,
    model: str = typer.Option("linear", "--model",
                              help="first | last | linear | u_shaped | w_shaped | time_decay."),
    half_life: str = typer.Option("7d", "--half-life", help="time_decay: a touch's weight halves every ..."),
    since: Optional[str] = _SINCE, until: Optional[str] = _UNTIL, source: Optional[str] = _SOURCE,
    owner: Optional[str] = _OWNER, stage: Optional[str] = _STAGE,
    fmt: str = _FORMAT, output: Optional[str] = _OUTPUT, svg: Optional[str] = _SVG, png: Optional[str] = _PNG,
    html: Optional[str] = _HTML,
) -> None:
    """Credit for leads, qualified leads and wins spread over the touches before them, by source and campaign."""
    from ..reports.attribution import MODELS, attribution_report, parse_half_life
    from ..reports.common import stage_list
    from ..reports.html import HtmlTable
    from ..reports.sources import source_infos
    from .render import check_format

    check_format(fmt)
    _check_outputs(output, svg, html)
    _check_png(png)
    if model not in MODELS:
        raise typer.BadParameter(f"'{model}' is not one of {', '.join(MODELS)}", param_hint="--model")
    decay = parse_half_life(half_life)
    rules = _rules_or_none(ctx)
    flt = _filter(since, until, source, owner, stage)
    report = attribution_report(settings(ctx).store(), stage_list(rules), source_infos(rules), flt, model=model,
                                half_life=decay)
    extra = f"model {model}" + (f" (half-life {half_life})" if model == "time_decay" else "")
    title = _title("Attribution", flt, extra)
    headers = [("By", "left"), ("Name", "left"), ("Touches", "right"), ("Leads", "right"),
               (report.qualified_stage or "Qualified", "right"), ("Won", "right"), ("Spend", "right"),
               ("Cost/won", "right")]
    table = _table(title, headers)
    cells = []
    for i, r in enumerate(report.rows):
        if i and r.dimension != report.rows[i - 1].dimension:
            table.add_section()
        row = [r.dimension, r.name, _fmt(r.touches), _credit(r.leads), _credit(r.qualified), _credit(r.won),
               _fmt(r.spend), _fmt(r.cost_per_won)]
        table.add_row(*row)
        cells.append(row)
    _deliver(table, fmt=fmt, columns=report.columns(), records=report.records(), output=output, svg=None, html=None)
    if svg or png or html:
        from ..reports import charts

        figures = []
        kinds = ["Leads", report.qualified_stage or "Qualified", "Won"]
        for dimension in ("source", "campaign"):
            rows = [r for r in report.rows if r.dimension == dimension]
            # Each bar is one kind of conversion split by who earned it: the parts add up to the conversions.
            series = {r.name: [float(r.leads), float(r.qualified), float(r.won)] for r in rows[:9]}
            if len(rows) > 9:
                rest = rows[9:]
                series["other"] = [float(sum(r.leads for r in rest)), float(sum(r.qualified for r in rest)),
                                   float(sum(r.won for r in rest))]
            if series:
                figures.append(charts.stacked_bars(kinds, series, title=f"{title} · by {dimension}",
                                                   xlabel="attributed conversions", ylabel="conversion"))
        _pictures(title, figures, [HtmlTable([h for h, _ in headers], cells, numeric=[False, False] + [True] * 6)],
                  svg=svg, png=png, html=html)
