"""`leadctl report` commands: funnel, sources, owners, scoring.

Each command builds a filter, calls one core function in `leadctl.reports`, and hands the
result to `reports.output`, which renders it: a table fitted to the terminal, `--format
csv|json` for scripts (`--output FILE` writes the same to a file), and pictures for people:
`--svg FILE` / `--png FILE` save the report's chart, `--html FILE` one page with every chart
and the full table.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Optional, Sequence

import typer

from . import options as opt
from .context import settings
from .render import report_console as _console, show_report as show, stage_labels as _stage_labels  # noqa: F401

app = typer.Typer(help="Funnel, source, owner and scoring reports.", no_args_is_help=True)

BAR_WIDTH = 16
_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(value: float | None, top: float | None, width: int = BAR_WIDTH) -> str:
    """A left-aligned bar of block characters, `value / top` of `width` (eighth-block precision)."""
    from ..reports.output import bar_text, fraction

    return bar_text(fraction(value, top), width)


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
    from ..reports.output import title

    return title(name, flt, extra)


def _fmt(value: Any, suffix: str = "") -> str:
    from ..reports.output import text

    return text(value, suffix)


def _check_outputs(output: str | None, svg: str | None, html: str | None, png: str | None = None) -> None:
    """Refuse files that cannot be written before the report is computed."""
    from .render import check_output

    for path, option in ((output, "--output"), (svg, "--svg"), (html, "--html"), (png, "--png")):
        check_output(path, option)


def _width() -> int:
    from ..reports.output import terminal_width

    return terminal_width()


# The plain-table path (a Rich table built by the command itself); the four reports above use `show`.
def _table(title: str, headers: Sequence[tuple[str, str]]):
    from rich.table import Table

    t = Table(title=title, header_style="bold", title_justify="left")
    for h, justify in headers:
        t.add_column(h, justify=justify, no_wrap=True, min_width=len(h))
    return t


def _deliver(table, *, fmt: str, columns: Sequence[str], records: list[tuple], output: str | None,
             svg: str | None, html: str | None) -> None:
    """Print (or write) a plain table in `fmt` (CSV/JSON: `columns` × `records`)."""
    from .render import console, emit_rows, output_file

    if fmt in ("csv", "json"):
        emit_rows(columns, records, fmt=fmt, output=output)
    elif output and output != "-":
        with output_file(output, "--output", private=False) as fh:
            _console(fh).print(table)
    else:
        console().print(table)
    if svg or html:
        rec = _console(io.StringIO())
        rec.record = True
        rec.print(table)
        from .render import write_shared

        if svg:
            write_shared(svg, rec.export_svg(title="leadctl", clear=False).encode("utf-8"), "--svg")
        if html:
            write_shared(html, rec.export_html(clear=False).encode("utf-8"), "--html")


_SINCE, _UNTIL, _SOURCE, _OWNER, _STAGE, _OUTPUT = opt.SINCE, opt.UNTIL, opt.SOURCE, opt.OWNER, opt.STAGE, opt.OUTPUT
_FORMAT = typer.Option("table", "--format", help="table | csv | json.")
_SVG = typer.Option(None, "--svg", help="Also save the report's chart as SVG.")
_PNG = typer.Option(None, "--png", help="Also save the report's chart as PNG.")
_HTML = typer.Option(None, "--html", help="Also save one HTML page with every chart and the full table.")
_TOTALS = typer.Option(False, "--totals", help="CSV: add a Total row after the groups (JSON always has `totals`).")


@app.command("funnel")
def report_funnel(
    ctx: typer.Context,
    since: Optional[str] = _SINCE, until: Optional[str] = _UNTIL, source: Optional[str] = _SOURCE,
    owner: Optional[str] = _OWNER, stage: Optional[str] = _STAGE,
    by: Optional[str] = typer.Option(None, "--by", help="One funnel per creation cohort: week | month."),
    strict: bool = typer.Option(False, "--strict",
                                help="Count a stage only when every earlier stage was passed in order."),
    fmt: str = _FORMAT, output: Optional[str] = _OUTPUT, svg: Optional[str] = _SVG, png: Optional[str] = _PNG,
    html: Optional[str] = _HTML, totals: bool = _TOTALS,
) -> None:
    """Leads reaching each stage, conversion, drop-off and time in stage (median, p90)."""
    from ..reports.common import stage_list
    from ..reports.funnel import funnel_report
    from ..reports.output import funnel_view
    from .render import check_format

    check_format(fmt)
    _check_outputs(output, svg, html, png)
    if by is not None and by not in ("week", "month"):
        raise typer.BadParameter(f"'{by}' is not one of week, month", param_hint="--by")
    st = settings(ctx)
    flt = _filter(since, until, source, owner, stage)
    report = funnel_report(st.store(), stage_list(_rules_or_none(ctx)), flt, now=st.now, by=by, strict=strict)
    show(funnel_view(report, now=st.now), fmt=fmt, output=output, svg=svg, png=png, html=html, totals=totals)


@app.command("sources")
def report_sources(
    ctx: typer.Context,
    since: Optional[str] = _SINCE, until: Optional[str] = _UNTIL, source: Optional[str] = _SOURCE,
    owner: Optional[str] = _OWNER, stage: Optional[str] = _STAGE,
    fmt: str = _FORMAT, output: Optional[str] = _OUTPUT, svg: Optional[str] = _SVG, png: Optional[str] = _PNG,
    html: Optional[str] = _HTML, totals: bool = _TOTALS,
) -> None:
    """Per source: leads, qualified, won, won rate, score, first response, spend and cost per lead/won."""
    from ..reports.common import stage_list
    from ..reports.output import sources_view
    from ..reports.sources import source_infos, sources_report
    from .render import check_format

    check_format(fmt)
    _check_outputs(output, svg, html, png)
    rules = _rules_or_none(ctx)
    stages = stage_list(rules)
    flt = _filter(since, until, source, owner, stage)
    st = settings(ctx)
    report = sources_report(st.store(), stages, source_infos(rules), flt)
    show(sources_view(report, _stage_labels(stages), now=st.now), fmt=fmt, output=output, svg=svg, png=png,
         html=html, totals=totals)


@app.command("owners")
def report_owners(
    ctx: typer.Context,
    since: Optional[str] = _SINCE, until: Optional[str] = _UNTIL, source: Optional[str] = _SOURCE,
    owner: Optional[str] = _OWNER, stage: Optional[str] = _STAGE,
    fmt: str = _FORMAT, output: Optional[str] = _OUTPUT, svg: Optional[str] = _SVG, png: Optional[str] = _PNG,
    html: Optional[str] = _HTML, totals: bool = _TOTALS,
) -> None:
    """Per owner: open leads against capacity, assignments, first response, SLA breaches, wins."""
    from ..reports.common import stage_list
    from ..reports.output import owners_view
    from ..reports.owners import owners_report
    from .render import check_format

    check_format(fmt)
    _check_outputs(output, svg, html, png)
    flt = _filter(since, until, source, owner, stage)
    st = settings(ctx)
    report = owners_report(st.store(), stage_list(_rules_or_none(ctx)), flt)
    show(owners_view(report, now=st.now), fmt=fmt, output=output, svg=svg, png=png, html=html, totals=totals)


@app.command("scoring")
def report_scoring(
    ctx: typer.Context,
    since: Optional[str] = _SINCE, until: Optional[str] = _UNTIL, source: Optional[str] = _SOURCE,
    owner: Optional[str] = _OWNER, stage: Optional[str] = _STAGE,
    bands: int = typer.Option(10, "--bands", min=1, max=100, help="Number of equal score bands over 0-100."),
    fmt: str = _FORMAT, output: Optional[str] = _OUTPUT, svg: Optional[str] = _SVG, png: Optional[str] = _PNG,
    html: Optional[str] = _HTML, totals: bool = _TOTALS,
) -> None:
    """Scoring calibration: won rate by score band and by grade, with lift over the overall rate."""
    from ..reports.common import stage_list
    from ..reports.output import scoring_view
    from ..reports.scoring import scoring_report
    from .render import check_format

    check_format(fmt)
    _check_outputs(output, svg, html, png)
    flt = _filter(since, until, source, owner, stage)
    st = settings(ctx)
    report = scoring_report(st.store(), stage_list(_rules_or_none(ctx)), flt, bands=bands)
    show(scoring_view(report, now=st.now), fmt=fmt, output=output, svg=svg, png=png, html=html, totals=totals)


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


@app.command("lost")
def report_lost(
    ctx: typer.Context,
    since: Optional[str] = _SINCE, until: Optional[str] = _UNTIL, source: Optional[str] = _SOURCE,
    owner: Optional[str] = _OWNER, stage: Optional[str] = _STAGE,
    fmt: str = _FORMAT, output: Optional[str] = _OUTPUT, svg: Optional[str] = _SVG, png: Optional[str] = _PNG,
    html: Optional[str] = _HTML,
) -> None:
    """Why leads are lost: stages.yaml's lost reasons, by stage reached, source and owner."""
    from ..reports.common import stage_list
    from ..reports.html import HtmlTable
    from ..reports.lost import catalogue_of, lost_report
    from ..reports.sources import source_infos
    from .render import check_format

    check_format(fmt)
    _check_outputs(output, svg, html)
    _check_png(png)
    rules = _rules_or_none(ctx)
    flt = _filter(since, until, source, owner, stage)
    report = lost_report(settings(ctx).store(), stage_list(rules), catalogue_of(rules), flt, source_infos(rules))
    title = _title("Lost reasons", flt, f"{report.lost:,} lost leads")
    headers = [("By", "left"), ("Group", "left"), ("Reason", "left"), ("Leads", "right"), ("Share %", "right"),
               ("", "left")]
    table = _table(title, headers)
    cells = []
    for i, r in enumerate(report.rows):
        if i and r.dimension != report.rows[i - 1].dimension:
            table.add_section()
        row = [r.dimension, r.group, r.reason_label, _fmt(r.leads), _fmt(r.share_pct)]
        table.add_row(*row, bar(r.share_pct, 100.0, BAR_WIDTH // 2))
        cells.append(row)
    _deliver(table, fmt=fmt, columns=report.columns(), records=report.records(), output=output, svg=None, html=None)
    if svg or png or html:
        from ..reports import charts

        figures = []
        for dimension, label in (("stage", "stage reached"), ("source", "source"), ("owner", "owner")):
            groups, series = report.matrix(dimension)
            if groups:
                figures.append(charts.stacked_bars(groups, series, title=f"{title} · by {label}",
                                                   xlabel="lost leads", ylabel=label))
        _pictures(title, figures, [HtmlTable([h for h, _ in headers[:5]], cells, numeric=[False] * 3 + [True] * 2)],
                  svg=svg, png=png, html=html)


@app.command("velocity")
def report_velocity(
    ctx: typer.Context,
    stuck: bool = typer.Option(False, "--stuck", help="Also list open leads in their stage for longer than its "
                                                      "p90 (CSV/JSON: only those leads)."),
    since: Optional[str] = _SINCE, until: Optional[str] = _UNTIL, source: Optional[str] = _SOURCE,
    owner: Optional[str] = _OWNER, stage: Optional[str] = _STAGE,
    fmt: str = _FORMAT, output: Optional[str] = _OUTPUT, svg: Optional[str] = _SVG, png: Optional[str] = _PNG,
    html: Optional[str] = _HTML,
) -> None:
    """Days from creation to each stage and to won (median, p75, p90) by source, owner, grade and cohort."""
    from ..reports.common import stage_list
    from ..reports.html import HtmlTable
    from ..reports.sources import source_infos
    from ..reports.velocity import velocity_report
    from .render import check_format, console

    check_format(fmt)
    _check_outputs(output, svg, html)
    _check_png(png)
    rules = _rules_or_none(ctx)
    st = settings(ctx)
    flt = _filter(since, until, source, owner, stage)
    report = velocity_report(st.store(), stage_list(rules), flt, sources=source_infos(rules), now=st.now,
                             stuck=stuck)
    title = _title("Velocity", flt, "days from creation")
    headers = [("By", "left"), ("Group", "left"), ("Stage", "left"), ("Leads", "right"), ("Median d", "right"),
               ("P75 d", "right"), ("P90 d", "right")]
    table = _table(title, headers)
    cells = []
    for i, r in enumerate(report.rows):
        if i and r.dimension != report.rows[i - 1].dimension:
            table.add_section()
        row = [r.dimension, r.group, r.stage_label, _fmt(r.leads), _fmt(r.median_days), _fmt(r.p75_days),
               _fmt(r.p90_days)]
        table.add_row(*row)
        cells.append(row)
    stuck_headers = [("Lead", "right"), ("E-mail", "left"), ("Owner", "left"), ("Stage", "left"),
                     ("Days in stage", "right"), ("Stage p90 d", "right")]
    stuck_cells = [[_fmt(s.lead_id), s.email or "", s.owner or "", s.stage, _fmt(s.days_in_stage),
                    _fmt(s.p90_days)] for s in report.stuck or []]
    if stuck and fmt in ("csv", "json"):
        from .render import emit_rows

        emit_rows(report.STUCK_COLUMNS, report.stuck_records(), fmt=fmt, output=output)
    else:
        _deliver(table, fmt=fmt, columns=report.columns(), records=report.records(), output=output, svg=None,
                 html=None)
        if stuck and fmt == "table" and not (output and output != "-"):
            lines = _table(f"Stuck leads — {len(stuck_cells):,} open leads past their stage's p90", stuck_headers)
            for row in stuck_cells:
                lines.add_row(*row)
            console().print(lines)
    if svg or png or html:
        from ..reports import charts

        overall = [r for r in report.rows if r.dimension == "all"]
        figures = []
        if overall:
            figures.append(charts.bar_chart(
                [r.stage_label for r in overall],
                {"median": [r.median_days or 0 for r in overall], "p75": [r.p75_days or 0 for r in overall],
                 "p90": [r.p90_days or 0 for r in overall]},
                title=title, xlabel="days from creation", ylabel="stage reached"))
        for dimension in ("source", "cohort"):
            rows = [r for r in report.rows if r.dimension == dimension]
            groups = list(dict.fromkeys(r.group for r in rows))
            stages_ = list(dict.fromkeys(r.stage_label for r in overall))
            if groups and stages_:
                med = {(r.group, r.stage_label): r.median_days for r in rows}
                figures.append(charts.heatmap(
                    groups, stages_, [[med.get((g, s)) or 0 for s in stages_] for g in groups],
                    title=f"{title} · median by {dimension}", xlabel="stage reached", ylabel=dimension,
                    colour_label="median days"))
        tables = [HtmlTable([h for h, _ in headers], cells, numeric=[False] * 3 + [True] * 4)]
        if stuck:
            tables.append(HtmlTable([h for h, _ in stuck_headers], stuck_cells,
                                    numeric=[True, False, False, False, True, True], caption="Stuck leads"))
        _pictures(title, figures, tables, svg=svg, png=png, html=html)
