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
from typing import Any, Callable, Optional, Sequence

import typer

from . import options as opt
from .context import settings
from .render import report_console as _console, show_report as show, stage_labels as _stage_labels  # noqa: F401
from .segments import SEGMENT, segment_option

app = typer.Typer(help="Funnel, source, owner and scoring reports.", no_args_is_help=True)

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
    for path, kind in ((svg, "svg"), (png, "png")):
        # The picture's format comes from its option: a PNG under a .gif name would mislead whoever opens it.
        # A name without a suffix (a device such as /dev/stdout, a pipe) says nothing and is taken as it is.
        suffix = Path(path).suffix if path else ""
        if suffix and suffix.lower() != f".{kind}":
            from ..errors import UsageError

            raise UsageError(f"{path}: the picture is saved as {kind.upper()}, the name ends in {suffix}",
                             option=f"--{kind}", hint=f"name the file *.{kind}")


def _report(ctx: typer.Context, build: Callable[[Any, Any], Any], since, until, source, owner, stage, segment, *,
            fmt: str, output: str | None, svg: str | None, png: str | None, html: str | None, totals: bool) -> None:
    """Check the outputs, build the lead filter with its segment, show the view `build(settings, filter)` makes."""
    from .render import check_format

    check_format(fmt)
    _check_outputs(output, svg, html, png)
    flt = _filter(since, until, source, owner, stage)
    flt.segment = segment_option(ctx, segment)
    view = build(settings(ctx), flt)
    show(view, fmt=fmt, output=output, svg=svg, png=png, html=html, totals=totals)


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
    owner: Optional[str] = _OWNER, stage: Optional[str] = _STAGE, segment: Optional[str] = SEGMENT,
    by: Optional[str] = typer.Option(None, "--by", help="One funnel per creation cohort (week | month) or per "
                                                        "segment (segment: a lead in several counts in each)."),
    strict: bool = typer.Option(False, "--strict",
                                help="Count a stage only when every earlier stage was passed in order."),
    fmt: str = _FORMAT, output: Optional[str] = _OUTPUT, svg: Optional[str] = _SVG, png: Optional[str] = _PNG,
    html: Optional[str] = _HTML, totals: bool = _TOTALS,
) -> None:
    """Leads reaching each stage, conversion, drop-off and time in stage (median, p90)."""
    from ..reports.common import stage_list
    from ..reports.funnel import funnel_report
    from ..reports.output import funnel_view

    def build(st, flt):
        if by is not None and by not in ("week", "month", "segment"):
            raise typer.BadParameter(f"'{by}' is not one of week, month, segment", param_hint="--by")
        report = funnel_report(st.store(), stage_list(_rules_or_none(ctx)), flt, now=st.now, by=by, strict=strict)
        return funnel_view(report, now=st.now)

    _report(ctx, build, since, until, source, owner, stage, segment,
            fmt=fmt, output=output, svg=svg, png=png, html=html, totals=totals)


@app.command("sources")
def report_sources(
    ctx: typer.Context,
    since: Optional[str] = _SINCE, until: Optional[str] = _UNTIL, source: Optional[str] = _SOURCE,
    owner: Optional[str] = _OWNER, stage: Optional[str] = _STAGE, segment: Optional[str] = SEGMENT,
    by: Optional[str] = typer.Option(None, "--by", help="segment: one row per segment and source (a lead in "
                                                        "several segments counts in each; the total once)."),
    fmt: str = _FORMAT, output: Optional[str] = _OUTPUT, svg: Optional[str] = _SVG, png: Optional[str] = _PNG,
    html: Optional[str] = _HTML, totals: bool = _TOTALS,
) -> None:
    """Per source: leads, qualified, won, won rate, score, first response, spend and cost per lead/won."""
    from ..reports.common import stage_list
    from ..reports.output import sources_view
    from ..reports.sources import source_infos, sources_report

    def build(st, flt):
        if by is not None and by != "segment":
            raise typer.BadParameter(f"'{by}' is not one of segment", param_hint="--by")
        rules = _rules_or_none(ctx)
        stages = stage_list(rules)
        report = sources_report(st.store(), stages, source_infos(rules), flt, by=by)
        return sources_view(report, _stage_labels(stages), now=st.now)

    _report(ctx, build, since, until, source, owner, stage, segment,
            fmt=fmt, output=output, svg=svg, png=png, html=html, totals=totals)


@app.command("owners")
def report_owners(
    ctx: typer.Context,
    since: Optional[str] = _SINCE, until: Optional[str] = _UNTIL, source: Optional[str] = _SOURCE,
    owner: Optional[str] = _OWNER, stage: Optional[str] = _STAGE, segment: Optional[str] = SEGMENT,
    fmt: str = _FORMAT, output: Optional[str] = _OUTPUT, svg: Optional[str] = _SVG, png: Optional[str] = _PNG,
    html: Optional[str] = _HTML, totals: bool = _TOTALS,
) -> None:
    """Per owner: open leads against capacity, assignments, first response, SLA breaches, wins."""
    from ..reports.common import stage_list
    from ..reports.output import owners_view
    from ..reports.owners import owners_report

    def build(st, flt):
        return owners_view(owners_report(st.store(), stage_list(_rules_or_none(ctx)), flt), now=st.now)

    _report(ctx, build, since, until, source, owner, stage, segment,
            fmt=fmt, output=output, svg=svg, png=png, html=html, totals=totals)


@app.command("scoring")
def report_scoring(
    ctx: typer.Context,
    since: Optional[str] = _SINCE, until: Optional[str] = _UNTIL, source: Optional[str] = _SOURCE,
    owner: Optional[str] = _OWNER, stage: Optional[str] = _STAGE, segment: Optional[str] = SEGMENT,
    bands: int = typer.Option(10, "--bands", min=1, max=100, help="Number of equal score bands over 0-100."),
    fmt: str = _FORMAT, output: Optional[str] = _OUTPUT, svg: Optional[str] = _SVG, png: Optional[str] = _PNG,
    html: Optional[str] = _HTML, totals: bool = _TOTALS,
    model: bool = typer.Option(False, "--model", help="The model's held-out AUC, log loss, lift and calibration "
                                                      "(rules/model.yaml) beside the hand-written score's."),
) -> None:
    """Scoring calibration: won rate by score band and by grade, with lift over the overall rate."""
    from ..reports.common import stage_list
    from ..reports.output import scoring_view
    from ..reports.scoring import scoring_report
    from .render import check_format

    check_format(fmt)
    _check_outputs(output, svg, html, png)
    if model:  # the figures model fit stored: they do not depend on the filters
        from ..reports.output import model_view
        from ..reports.scoring import model_comparison

        st = settings(ctx)
        show(model_view(model_comparison(st.rules().directory), now=st.now),
             fmt=fmt, output=output, svg=svg, png=png, html=html, totals=totals)
        return

    def build(st, flt):
        return scoring_view(scoring_report(st.store(), stage_list(_rules_or_none(ctx)), flt, bands=bands), now=st.now)

    _report(ctx, build, since, until, source, owner, stage, segment,
            fmt=fmt, output=output, svg=svg, png=png, html=html, totals=totals)


# ---------------------------------------------------------------- attribution, velocity, lost reasons

@app.command("attribution")
def report_attribution(
    ctx: typer.Context,
    model: str = typer.Option("linear", "--model",
                              help="first | last | linear | u_shaped | w_shaped | time_decay."),
    half_life: str = typer.Option("7d", "--half-life", help="time_decay: a touch's weight halves every ..."),
    since: Optional[str] = _SINCE, until: Optional[str] = _UNTIL, source: Optional[str] = _SOURCE,
    owner: Optional[str] = _OWNER, stage: Optional[str] = _STAGE, segment: Optional[str] = SEGMENT,
    fmt: str = _FORMAT, output: Optional[str] = _OUTPUT, svg: Optional[str] = _SVG, png: Optional[str] = _PNG,
    html: Optional[str] = _HTML, totals: bool = _TOTALS,
) -> None:
    """Credit for leads, qualified leads and wins spread over the touches before them, by source and campaign."""
    from ..reports.attribution import MODELS, attribution_report, attribution_view, parse_half_life
    from ..reports.common import stage_list
    from ..reports.sources import source_infos

    def build(st, flt):
        if model not in MODELS:
            raise typer.BadParameter(f"'{model}' is not one of {', '.join(MODELS)}", param_hint="--model")
        decay = parse_half_life(half_life)
        rules = _rules_or_none(ctx)
        report = attribution_report(st.store(), stage_list(rules), source_infos(rules), flt, model=model,
                                    half_life=decay)
        return attribution_view(report, now=st.now, half_life=half_life)

    _report(ctx, build, since, until, source, owner, stage, segment,
            fmt=fmt, output=output, svg=svg, png=png, html=html, totals=totals)


@app.command("lost")
def report_lost(
    ctx: typer.Context,
    since: Optional[str] = _SINCE, until: Optional[str] = _UNTIL, source: Optional[str] = _SOURCE,
    owner: Optional[str] = _OWNER, stage: Optional[str] = _STAGE, segment: Optional[str] = SEGMENT,
    fmt: str = _FORMAT, output: Optional[str] = _OUTPUT, svg: Optional[str] = _SVG, png: Optional[str] = _PNG,
    html: Optional[str] = _HTML, totals: bool = _TOTALS,
) -> None:
    """Why leads are lost: stages.yaml's lost reasons, by stage reached, source and owner."""
    from ..reports.common import stage_list
    from ..reports.lost import catalogue_of, lost_report, lost_view
    from ..reports.sources import source_infos

    def build(st, flt):
        rules = _rules_or_none(ctx)
        return lost_view(lost_report(st.store(), stage_list(rules), catalogue_of(rules), flt, source_infos(rules)),
                         now=st.now)

    _report(ctx, build, since, until, source, owner, stage, segment,
            fmt=fmt, output=output, svg=svg, png=png, html=html, totals=totals)


@app.command("velocity")
def report_velocity(
    ctx: typer.Context,
    stuck: bool = typer.Option(False, "--stuck", help="Also list open leads in their stage for longer than its "
                                                      "p90 (CSV/JSON: only those leads)."),
    since: Optional[str] = _SINCE, until: Optional[str] = _UNTIL, source: Optional[str] = _SOURCE,
    owner: Optional[str] = _OWNER, stage: Optional[str] = _STAGE, segment: Optional[str] = SEGMENT,
    fmt: str = _FORMAT, output: Optional[str] = _OUTPUT, svg: Optional[str] = _SVG, png: Optional[str] = _PNG,
    html: Optional[str] = _HTML, totals: bool = _TOTALS,
) -> None:
    """Days from creation to each stage and to won (median, p75, p90) by source, owner, grade and cohort."""
    from ..reports import output as out
    from ..reports.common import stage_list
    from ..reports.sources import source_infos
    from ..reports.velocity import stuck_view, velocity_report, velocity_view
    from .render import check_format, output_file, report_console, save_charts

    def build(st, flt):
        rules = _rules_or_none(ctx)
        return velocity_report(st.store(), stage_list(rules), flt, sources=source_infos(rules), now=st.now,
                               stuck=stuck)

    if not stuck:
        _report(ctx, lambda st, flt: velocity_view(build(st, flt), now=st.now),
                since, until, source, owner, stage, segment,
                fmt=fmt, output=output, svg=svg, png=png, html=html, totals=totals)
        return
    check_format(fmt)
    _check_outputs(output, svg, html, png)
    flt = _filter(since, until, source, owner, stage)
    flt.segment = segment_option(ctx, segment)
    st = settings(ctx)
    report = build(st, flt)
    view = velocity_view(report, now=st.now)
    # The stuck leads are lead-level data (e-mails): files holding them stay owner-only.
    listed = stuck_view(report, now=st.now)
    with output_file(output, "--output") as fh:
        if fmt in ("csv", "json"):
            (out.write_json if fmt == "json" else out.write_csv)(listed, fh)
        else:
            width = out.terminal_width(fh)
            console = report_console(fh, width) if output and output != "-" else report_console(width=width)
            console.print(out.rich_table(view, width))
            console.print(out.rich_table(listed, width))
    save_charts(view, svg, png)
    if html:
        with output_file(html, "--html") as fh:
            fh.write(_with_stuck(out.html_text(view), listed))


def _with_stuck(page: str, view) -> str:
    """The velocity page with the stuck leads as one more section."""
    from ..reports.html import HtmlTable, Section, html_page

    table = HtmlTable([c.header for c in view.columns], view.cells, numeric=[c.numeric for c in view.columns])
    extra = html_page(view.title, [Section(view.title, tables=[table])])
    section = extra[extra.index("<section>"):extra.rindex("</section>") + len("</section>")]
    return page.replace("</main>", section + "</main>", 1)
