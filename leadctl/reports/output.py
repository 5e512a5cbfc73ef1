"""How reports are shown: one `View` per report, rendered as a fitted terminal table, CSV, JSON,
a chart (SVG/PNG) or one HTML page. Plain functions, no CLI framework: every path that prints a
report renders it here, so they print the same thing.

- Table: display names of stages, every column headed, fitted to the terminal (reports.tables).
- CSV/JSON: the groups only. JSON is `{"rows": [...], "totals": {...} | null}` with the same
  keys in every mode (numbers as numbers, missing as null); CSV adds a `Total` row only when
  asked (`totals=True`).
- Pictures: the report's main chart as SVG or PNG; HTML holds every chart and the full table.
  matplotlib is imported only then.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Callable, Sequence

from .tables import Column, fit, shorten

Cell = Any  # display text, or a fraction 0..1 for a bar column


@dataclass
class View:
    """A report ready to show: the table people read and the rows scripts read."""

    name: str
    title: str
    subtitle: str
    columns: list[Column]
    cells: list[list[Cell]]
    data_columns: Sequence[str]
    records: list[tuple]
    totals: dict[str, Any] | None = None
    total_cells: list[Cell] | None = None
    sections: set[int] = field(default_factory=set)          # row indexes that start a new section
    charts: list[tuple[str, Callable[[], Any]]] = field(default_factory=list)  # (heading, figure builder)


# ---------------------------------------------------------------- formatting

def text(value: Any, suffix: str = "") -> str:
    """A cell as shown: thousands separated, up to two decimals, '' when missing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        shown = f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value):,}"
        return shown + suffix
    if isinstance(value, int):
        return f"{value:,}" + suffix
    from ..cli.render import safe_text

    return safe_text(str(value)) + suffix


def display(name: str, label: str | None) -> str:
    """A stage's display name: its label, else its name with a capital (`opportunity` → `Opportunity`)."""
    if label and label != name:
        return label
    return name[:1].upper() + name[1:] if name.islower() else name


def json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if value == "":
        return None  # missing is null, never ""
    return value


def fraction(value: float | int | None, top: float | int | None) -> float | None:
    if not value or not top or value <= 0:
        return None
    return min(float(value) / float(top), 1.0)


_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar_text(share: float | None, width: int, centred: bool = False) -> str:
    """A bar of block characters, `share` of `width` (eighth-block precision; centred: whole blocks)."""
    if not share:
        return " " * width if centred else ""
    if centred:
        n = max(1, round(share * width))
        if (width - n) % 2:
            n = min(width, n + 1)
        pad = (width - n) // 2
        return " " * pad + "█" * n + " " * pad
    eighths = max(1, round(share * width * 8))
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")


# ---------------------------------------------------------------- table

def terminal_width(stream: Any = None) -> int:
    """LEADCTL_WIDTH, else COLUMNS, else the terminal's width, else 160 (piped: a cron mail, a file)."""
    for name in ("LEADCTL_WIDTH", "COLUMNS"):
        raw = os.environ.get(name, "")
        if raw.isdigit() and int(raw) > 0:
            return int(raw)
    stream = stream or sys.stdout
    try:
        if stream.isatty():
            return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        pass
    return 160


def rich_table(view: View, width: int):
    """The view as a Rich table at most `width` characters wide."""
    from rich.table import Table

    widths = fit(view.columns, [[c for c in row] for row in view.cells + ([view.total_cells] if view.total_cells
                                                                          else [])], width)
    table = Table(title=view.title, header_style="bold", title_justify="left")
    kept = [i for i, w in enumerate(widths) if w is not None]
    for i in kept:
        col, w = view.columns[i], widths[i]
        justify: Any = "right" if col.numeric and not col.bar else "left"  # a funnel bar is centred by its padding
        table.add_column(col.header, justify=justify, no_wrap=True, min_width=w, max_width=w,
                         overflow="ellipsis" if col.shrink else "fold")

    def cells(row: Sequence[Cell]) -> list[str]:
        out = []
        for i in kept:
            col, w, value = view.columns[i], widths[i] or 0, row[i]
            if col.bar:
                out.append(bar_text(value, w, centred=col.header == "Funnel"))
            elif col.shrink:
                out.append(shorten(str(value or ""), w))
            else:
                out.append(str(value or ""))
        return out

    for n, row in enumerate(view.cells):
        if n in view.sections:
            table.add_section()
        table.add_row(*cells(row))
    if view.total_cells:
        table.add_section()
        table.add_row(*cells(view.total_cells))
    return table


# ---------------------------------------------------------------- data

def write_json(view: View, out: Any) -> None:
    rows = [{c: json_value(v) for c, v in zip(view.data_columns, r)} for r in view.records]
    totals = {k: json_value(v) for k, v in view.totals.items()} if view.totals is not None else None
    out.write(json.dumps({"rows": rows, "totals": totals}, ensure_ascii=False, indent=1) + "\n")


def write_csv(view: View, out: Any, *, totals: bool = False) -> None:
    from ..csvsafe import SafeCsvWriter

    w = SafeCsvWriter(out)
    w.writerow(view.data_columns)
    for r in view.records:
        w.writerow(["" if v is None else json_value(v) for v in r])
    if totals and view.totals is not None:
        first = view.data_columns[0]
        w.writerow(["Total" if c == first else ("" if view.totals.get(c) is None else view.totals[c])
                    for c in view.data_columns])


# ---------------------------------------------------------------- pictures

def main_chart(view: View) -> Any:
    """The report's first chart as a matplotlib figure."""
    return view.charts[0][1]()


def html_text(view: View) -> str:
    """One self-contained page: every chart of the view and its full table (nothing left out)."""
    from .charts import svg_text
    from .html import HtmlTable, Section, html_page

    sections = [Section(heading, charts=[svg_text(build())]) for heading, build in view.charts]
    numeric = [c.numeric for c in view.columns if not c.bar]
    shown = [i for i, c in enumerate(view.columns) if not c.bar]
    table = HtmlTable(headers=[view.columns[i].header for i in shown],
                      cells=[[row[i] for i in shown] for row in view.cells], numeric=numeric,
                      totals=[view.total_cells[i] for i in shown] if view.total_cells else None)
    sections.append(Section("Table", tables=[table]))
    return html_page(view.title, sections, subtitle=view.subtitle, footer="Made by leadctl.")


# ---------------------------------------------------------------- titles

def title(name: str, flt: Any, extra: str = "") -> str:
    """What the report shows: its name, the creation window, the filters."""
    if flt.since or flt.until:
        window = f"created {flt.since:%Y-%m-%d} " if flt.since else "created up "
        if flt.until and flt.until.time() == time(0):  # `--until D` ends at the next midnight: show D itself
            window += f"to {flt.until - timedelta(days=1):%Y-%m-%d}"
        else:
            window += f"to {flt.until:%Y-%m-%d %H:%M}" if flt.until else "to now"
        window = window.replace(" 00:00", "")
    else:
        window = "all time"
    named = (("source", flt.source), ("owner", flt.owner), ("stage", flt.stage),
             ("segment", getattr(flt, "segment", None)))
    filters = ", ".join(f"{k}={v}" for k, v in named if v)
    return f"{name} — {window}" + (f" · {filters}" if filters else "") + (f" · {extra}" if extra else "")


def as_of(now: datetime | None) -> str:
    return f"as of {now:%Y-%m-%d %H:%M} UTC" if now else ""


# ---------------------------------------------------------------- the reports

NO_SEGMENT = "(no segment)"  # with --by segment: the leads in none


def funnel_view(report: Any, *, now: datetime | None = None) -> View:
    """`report funnel`: stages by display name, lost stages apart; chart: the funnel (with `--by`, first a heat map
    of the share of each cohort reaching each stage)."""
    by = report.by
    by_segment = by == "segment"
    by_text = "by segment: a lead in several segments counts in each" if by_segment else f"by {by}" if by else ""
    extra = ", ".join(x for x in (by_text, "strict" if report.strict else "") if x)
    head = title("Funnel", report.filter, extra)

    def group(cohort: str | None) -> str:
        return (cohort or NO_SEGMENT) if by_segment else (cohort or "")

    columns = ([Column("Segment" if by_segment else "Cohort", numeric=False, shrink=by_segment)] if by else []) + [
        Column("Stage", numeric=False, shrink=True, min_width=10), Column("Funnel", bar=True, bar_max=40, priority=3),
        Column("Reached"), Column("Next %", priority=1), Column("Cumul. %"), Column("Drop-off", priority=2),
        Column("Median d", priority=3), Column("P90 d", priority=4)]
    cells: list[list[Cell]] = []
    sections: set[int] = set()
    for cohort in report.cohorts:
        rows = [r for r in report.rows if r.cohort == cohort]
        top = max((r.reached for r in rows if r.kind != "lost"), default=0)
        if by and rows and cohort != report.cohorts[0]:
            sections.add(len(cells))
        lost_started = False
        for r in rows:
            if r.kind == "lost" and not lost_started:
                lost_started = True
                if not by:
                    sections.add(len(cells))
            cells.append(([group(r.cohort)] if by else []) + [
                display(r.stage, r.label), fraction(r.reached, top), text(r.reached), text(r.next_conversion_pct),
                text(r.cumulative_conversion_pct), text(r.drop_off), text(r.median_days), text(r.p90_days)])
    data_columns = ("cohort", "stage", "label", "kind", "reached", "next_conversion_pct",
                    "cumulative_conversion_pct", "drop_off", "median_days", "p90_days", "segment")
    records = [(None if by_segment else r.cohort, r.stage, display(r.stage, r.label), r.kind, r.reached,
                r.next_conversion_pct, r.cumulative_conversion_pct, r.drop_off, r.median_days, r.p90_days,
                r.cohort if by_segment else None) for r in report.rows]
    # Totals and the funnel chart: each lead once (with --by segment, `overall`; cohorts do not overlap).
    counted = getattr(report, "overall", None) or report.rows
    funnel_rows = [r for r in counted if r.kind != "lost"]
    lost_rows = [r for r in counted if r.kind == "lost"]
    cohort_rows = [r for r in report.rows if r.kind != "lost"]
    stages: list[Any] = []
    for r in funnel_rows:
        if r.stage not in [s.stage for s in stages]:
            stages.append(r)
    reached = {s.stage: sum(r.reached for r in funnel_rows if r.stage == s.stage) for s in stages}
    first = reached[stages[0].stage] if stages else 0
    won = sum(reached[s.stage] for s in stages if s.kind == "won")
    totals = {"leads": first, "won": won, "lost": sum(r.reached for r in lost_rows)}
    sub = as_of(now)

    def funnel_fig():
        from .charts import funnel_chart

        counts = [reached[s.stage] for s in stages]
        conv = [round(100.0 * counts[i + 1] / counts[i], 1) if counts[i] else None for i in range(len(counts) - 1)]
        labels = [display(s.stage, s.label) for s in stages]
        lost = [(display(r.stage, r.label), sum(x.reached for x in lost_rows if x.stage == r.stage)) for r in lost_rows
                if r.cohort == lost_rows[0].cohort]
        lost = [(name, n) for name, n in lost if n]
        if lost:
            sub_lost = ", ".join(f"{name} {n:,}" for name, n in lost)
            return funnel_chart(labels, counts, conv, title=head, subtitle=f"{sub} · left the funnel: {sub_lost}")
        return funnel_chart(labels, counts, conv, title=head, subtitle=sub)

    charts: list[tuple[str, Callable[[], Any]]] = [("Leads reaching each stage", funnel_fig)]
    if by:
        def cohort_fig():
            from .charts import heatmap

            grid = [[next((r.cumulative_conversion_pct for r in cohort_rows if r.cohort == c and r.stage == s.stage),
                          None) for s in stages] for c in report.cohorts]
            what = "segment" if by_segment else "cohort"
            return heatmap([group(c) or "(none)" for c in report.cohorts], [display(s.stage, s.label) for s in stages],
                           grid, title=head + f" · % of the {what} reaching each stage", xlabel="Stage",
                           ylabel="Segment" if by_segment else f"Creation {by}", subtitle=sub, suffix="%",
                           colour_label=f"% of {what}")
        # with --by, the cohorts (segments) are the picture
        charts.insert(0, ("Segments" if by_segment else f"Cohorts by creation {by}", cohort_fig))
    return View("funnel", head, sub, columns, cells, data_columns, records, totals, None, sections, charts)


def sources_view(report: Any, stage_labels: dict[str, str], *, now: datetime | None = None) -> View:
    """`report sources`: per source (with `--by segment`, per segment and source), the total apart; chart: leads
    and won per source (per segment) with the won rate."""
    by_segment = getattr(report, "by", None) == "segment"
    head = title("Sources", report.filter, "by segment: a lead in several segments counts in each, "
                                           "the total once" if by_segment else "")
    groups = [r for r in report.rows if r.source != "Total" or r.segment is not None]
    total = next((r for r in report.rows if r.source == "Total" and r.segment is None), None)
    mql = display(report.mql_stage, stage_labels.get(report.mql_stage)) if report.mql_stage else "MQL"
    sql = display(report.sql_stage, stage_labels.get(report.sql_stage)) if report.sql_stage else "SQL"
    columns = [Column("Source", numeric=False, shrink=True, min_width=10), Column("Leads"),
               Column("Share", bar=True, bar_max=20), Column(mql, priority=3), Column(sql, priority=3),
               Column("Won"), Column("Lost", priority=4), Column("Won %"), Column("Score", priority=5),
               Column("Resp h", priority=6), Column("Spend", priority=2), Column("CPL", priority=7),
               Column("CPW", priority=1)]
    top = max((r.leads for r in groups), default=0)

    def row(r, share):
        return [r.source, text(r.leads), share, text(r.reached_mql), text(r.reached_sql), text(r.won),
                text(r.lost), text(r.won_rate_pct), text(r.avg_score), text(r.median_first_response_hours),
                text(r.spend), text(r.cost_per_lead), text(r.cost_per_won)]

    cols = report.columns()
    records = [tuple(getattr(r, c) for c in cols) for r in groups]
    totals = {c: getattr(total, c) for c in cols if c not in ("source", "channel", "segment")} if total else None
    sub = as_of(now)
    cells = [row(r, fraction(r.leads, top)) for r in groups]
    total_cells = row(total, None) if total else None
    sections: set[int] = set()
    # Bars: per source, or with --by segment per segment (its rows summed: a lead is in a segment once).
    names = [r.source for r in groups]
    bars = {"Leads": [r.leads for r in groups], "Won": [r.won for r in groups]}
    rates = [r.won_rate_pct for r in groups]
    if by_segment:
        columns.insert(0, Column("Segment", numeric=False, shrink=True, min_width=8))
        segments = list(dict.fromkeys(r.segment for r in groups))
        labels = [s if s is not None else NO_SEGMENT for s in segments]
        sections = {i for i in range(1, len(groups)) if groups[i].segment != groups[i - 1].segment}
        cells = [[labels[segments.index(r.segment)]] + c for r, c in zip(groups, cells)]
        total_cells = ["Total", ""] + total_cells[1:] if total_cells else None
        names = labels
        bars = {k: [sum(getattr(r, k.lower()) for r in groups if r.segment == s) for s in segments] for k in bars}
        rates = [round(100.0 * w / n, 1) if n else None for w, n in zip(bars["Won"], bars["Leads"])]

    def fig():
        from .charts import bar_chart

        return bar_chart(names, bars, title=head, xlabel="Leads", subtitle=sub, annotation_title="Won %",
                         annotations=[text(r, "%") or "—" for r in rates])

    return View("sources", head, sub, columns, cells, cols, records, totals, total_cells, sections,
                [("Leads and won by segment" if by_segment else "Leads and won by source", fig)])


def owners_view(report: Any, *, now: datetime | None = None) -> View:
    """`report owners`; charts: open leads against capacity, and leads and won per owner."""
    head = title("Owners", report.filter)
    rows = report.rows
    columns = [Column("Owner", numeric=False, shrink=True, min_width=10),
               Column("Team", numeric=False, shrink=True, min_width=6, priority=5),
               Column("Open"), Column("Capacity", priority=3), Column("Load"),
               Column("Of capacity", bar=True, bar_max=16),
               Column("Leads", priority=4), Column("Assigned", priority=6), Column("Contacted", priority=7),
               Column("1st resp. h", priority=2), Column("SLA breaches", priority=1), Column("Won"),
               Column("Won %")]
    top_open = max((r.open_leads for r in rows), default=0)
    cells = [[r.owner, r.team or "", text(r.open_leads), text(r.capacity), text(r.load_pct, "%"),
              fraction(r.open_leads, r.capacity or top_open), text(r.leads), text(r.assigned), text(r.contacted),
              text(r.median_first_response_hours), text(r.sla_breaches), text(r.won), text(r.won_rate_pct)]
             for r in rows]
    cols = report.columns()
    records = [tuple(getattr(r, c) for c in cols) for r in rows]
    leads, won = sum(r.leads for r in rows), sum(r.won for r in rows)
    capacities = [r.capacity for r in rows if r.capacity]
    open_capped = sum(r.open_leads for r in rows if r.capacity)
    totals = {"capacity": sum(capacities) if capacities else None, "open_leads": sum(r.open_leads for r in rows),
              "load_pct": round(100.0 * open_capped / sum(capacities), 1) if capacities else None,
              "leads": leads, "assigned": sum(r.assigned for r in rows), "contacted": sum(r.contacted for r in rows),
              "sla_breaches": sum(r.sla_breaches for r in rows), "won": won,
              "won_rate_pct": round(100.0 * won / leads, 1) if leads else None}
    total_cells: list[Cell] = ["Total", "", text(totals["open_leads"]), text(totals["capacity"]),
                               text(totals["load_pct"], "%"), None, text(leads), text(totals["assigned"]),
                               text(totals["contacted"]), "", text(totals["sla_breaches"]), text(won),
                               text(totals["won_rate_pct"])]
    sub = as_of(now)

    def fig():
        from .charts import bar_chart

        names = [r.owner + (f" ({r.team})" if r.team else "") for r in rows]
        return bar_chart(names, {"Open leads": [r.open_leads for r in rows]}, marks=[r.capacity for r in rows],
                         mark_label="Capacity", title=head, xlabel="Open leads (now)", subtitle=sub,
                         annotation_title="Load", annotations=[text(r.load_pct, "%") or "—" for r in rows])

    def outcome_fig():
        from .charts import bar_chart

        names = [r.owner + (f" ({r.team})" if r.team else "") for r in rows]
        return bar_chart(names, {"Leads": [r.leads for r in rows], "Won": [r.won for r in rows]}, title=head,
                         xlabel="Leads owned (created in the window)", subtitle=sub, annotation_title="Won %",
                         annotations=[text(r.won_rate_pct, "%") or "—" for r in rows])

    charts: list[tuple[str, Callable[[], Any]]] = [("Open leads against capacity", fig),
                                                   ("Leads and won by owner", outcome_fig)]
    if not any(r.open_leads for r in rows):
        charts.reverse()  # nothing open (every lead closed): the outcomes are the picture
    return View("owners", head, sub, columns, cells, cols, records, totals, total_cells, set(), charts)


def scoring_view(report: Any, *, now: datetime | None = None) -> View:
    """`report scoring`; charts: won rate by score band with counts, and by grade."""
    overall = (f"overall won rate {report.won_rate_pct:g}% of {report.leads:,}" if report.won_rate_pct is not None
               else f"{report.leads:,} leads, none won")
    head = title("Scoring calibration", report.filter, overall)
    columns = [Column("By", numeric=False), Column("Bucket", numeric=False, shrink=True, min_width=8),
               Column("Leads"), Column("Won"), Column("Won %"), Column("Chart", bar=True, bar_max=16),
               Column("Lift", priority=1)]
    top = max((r.won_rate_pct or 0 for r in report.rows), default=0)
    cells: list[list[Cell]] = []
    sections: set[int] = set()
    last = None
    for r in report.rows:
        if last is not None and r.dimension != last:
            sections.add(len(cells))
        last = r.dimension
        cells.append([r.dimension, r.bucket, text(r.leads), text(r.won), text(r.won_rate_pct),
                      fraction(r.won_rate_pct, top), text(r.lift, "×")])
    cols = report.columns()
    records = [tuple(getattr(r, c) for c in cols) for r in report.rows]
    totals = {"leads": report.leads, "won": report.won, "won_rate_pct": report.won_rate_pct}
    sub = as_of(now)

    def chart(dimension: str, label: str):
        def fig():
            from .charts import bar_chart

            rows = [r for r in report.rows if r.dimension == dimension]
            return bar_chart([r.bucket for r in rows], {"Won %": [r.won_rate_pct for r in rows]}, title=head,
                             xlabel="Won rate (%)", ylabel=label, subtitle=sub, suffix="%",
                             annotation_title="Won / leads",
                             annotations=[f"{r.won:,} / {r.leads:,}" for r in rows],
                             reference=(report.won_rate_pct, f"Overall {text(report.won_rate_pct, '%')}")
                             if report.won_rate_pct is not None else None)
        return fig

    charts = [("Won rate by score band", chart("score", "Score band"))]
    if any(r.dimension == "grade" for r in report.rows):
        charts.append(("Won rate by grade", chart("grade", "Grade")))
    return View("scoring", head, sub, columns, cells, cols, records, totals, None, sections, charts)


def model_view(cmp: Any, *, now: datetime | None = None) -> View:
    """`report scoring --model`; charts: won rate by decile (model vs hand-written score, with the model's
    predicted rate), and lift at the top 10/20/30 %."""
    held = (cmp.holdout_from or "")[:10] or "?"
    head = f"Model vs hand-written score — held-out leads created from {held}"
    sub = " · ".join(x for x in (f"fitted {cmp.fitted_at[:16].replace('T', ' ')}" if cmp.fitted_at else "",
                                 as_of(now)) if x)
    columns = [Column("Figure", numeric=False), Column("Model"), Column("Actual"), Column("Score"),
               Column("Actual")]
    cells: list[list[Cell]] = [[r[0]] + [text(v) for v in r[1:]] for r in cmp.rows]
    first = {r[0]: r for r in cmp.rows}
    totals = {"leads": first.get("held-out leads", (None, None))[1], "won": first.get("won", (None, None))[1],
              "holdout_from": cmp.holdout_from, "fitted_at": cmp.fitted_at}
    deciles = [r for r in cmp.rows if str(r[0]).startswith("decile ")]
    lifts = [r for r in cmp.rows if str(r[0]).startswith("lift ")]

    def pct(v: Any) -> float | None:
        return None if v is None else round(100 * float(v), 1)

    def calibration_fig():
        from .charts import bar_chart

        return bar_chart([r[0] for r in deciles], {"Model's decile": [pct(r[2]) for r in deciles],
                                                   "Score's decile": [pct(r[4]) for r in deciles]},
                         title=head, subtitle=sub, xlabel="Won rate (%)", ylabel="Decile (lowest first)",
                         suffix="%", marks=[pct(r[1]) for r in deciles], mark_label="Model's predicted %")

    def lift_fig():
        from .charts import bar_chart

        return bar_chart([str(r[0]).replace("lift ", "").replace(" %", "%") for r in lifts],
                         {"Model": [r[1] for r in lifts], "Hand-written score": [r[3] for r in lifts]},
                         title=head, subtitle=sub, xlabel="Lift over the overall won rate (×)",
                         ylabel="Leads ranked highest", suffix="×")

    charts = [("Won rate by decile", calibration_fig), ("Lift", lift_fig)]
    starts = {next((i for i, r in enumerate(cmp.rows) if str(r[0]).startswith(p)), 0) for p in ("lift ", "decile ")}
    return View("scoring-model", head, sub, columns, cells, cmp.columns(), cmp.records(), totals, None,
                starts - {0}, charts)
