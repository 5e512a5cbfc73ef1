"""Charts of report data for people: matplotlib figures saved as SVG or PNG, or inlined in HTML.

    fig = bar_chart(["web", "ads"], {"Leads": [120, 80], "Won": [12, 4]},
                    title="Sources — all time", xlabel="Leads", annotations=["10%", "5%"])
    save(fig, "sources.svg")          # the suffix chooses the format: .svg or .png (else OutputError)
    html_fragment = svg_text(fig)     # an <svg> element for a self-contained page

Every function returns a `matplotlib.figure.Figure` built without pyplot (no GUI
backend, no global state), sized for its categories so that no label or value is
cut off, drawn in the Okabe–Ito colour-blind-safe palette. matplotlib is imported
only inside these functions: the reports' start-up path never pays for it.

- `bar_chart`: one bar per category and series, horizontal by default (long names
  read better), each bar labelled with its value; `annotations` adds one text per
  category (a rate, a count); `marks` draws a tick per category (capacity).
- `funnel_chart`: stages as centred horizontal bars, widest first, with the count
  on each bar and the conversion to the next stage between them.
- `heatmap`: a grid of numbers (cohort × stage), each cell labelled.
- `stacked_bars`: one bar per category split into its series' parts (attribution).
- `save(fig, path)`, `svg_text(fig)`, `png_bytes(fig)`: output; SVG keeps text as
  text (searchable, selectable, and checked by the tests).
"""
from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour vision deficiency.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000")
GREY = "#6B6B6B"
LABEL_WIDTH = 28  # characters per line before a category label wraps
DPI = 100
Number = float | int | None


def _rc() -> Any:
    from cycler import cycler

    return {
        "svg.fonttype": "none",       # text stays <text>: selectable, searchable, smaller
        "svg.hashsalt": "leadctl",    # stable element ids: the same report gives the same file
        "font.family": "DejaVu Sans",  # bundled with matplotlib: no font download, same look everywhere
        "font.size": 10,
        "axes.titlesize": 12,
        "axes.titleweight": "bold",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.prop_cycle": cycler(color=OKABE_ITO),
    }


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def wrap(label: Any, width: int = LABEL_WIDTH) -> str:
    """A category label on lines of at most `width` characters (never cut short)."""
    text = "" if label is None else str(label)
    return "\n".join(textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False)) or text


def number(value: Number, suffix: str = "") -> str:
    """A value as printed on a chart: thousands separated, up to two decimals, '—' when missing."""
    if value is None:
        return "—"
    if isinstance(value, float) and value != int(value):
        text = f"{value:,.2f}".rstrip("0").rstrip(".")
    else:
        text = f"{int(value):,}"
    return text + suffix


def _thousands(axis: Any, integer: bool = False) -> None:
    """Tick labels with thousands separators; `integer`: whole numbers only (counts)."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    if integer:
        axis.set_major_locator(MaxNLocator(integer=True))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: number(int(v) if v == int(v) else v)))


def _title(fig: Figure, title: str, subtitle: str | None) -> None:
    fig.suptitle(wrap(title, 90), fontsize=12, fontweight="bold", x=0.01, ha="left")
    if subtitle:
        fig.supxlabel(wrap(subtitle, 110), fontsize=8, color=GREY, x=0.01, ha="left")


def _height(n_rows: int, per_row: float, labels: Sequence[str]) -> float:
    lines = sum(max(1, s.count("\n") + 1) for s in labels)
    return max(2.6, 1.4 + max(n_rows * per_row, lines * 0.2))


def bar_chart(categories: Sequence[Any], series: Mapping[str, Sequence[Number]], *, title: str,
              xlabel: str, ylabel: str = "", subtitle: str | None = None, horizontal: bool = True,
              annotations: Sequence[str | None] | None = None, marks: Sequence[Number] | None = None,
              mark_label: str = "", suffix: str = "", fmt: Callable[[Number], str] | None = None,
              annotation_title: str = "", reference: tuple[float, str] | None = None) -> Figure:
    """Grouped bars, one per category and series, each labelled with its value (`fmt` or `number`);
    `reference` (value, label) draws a dashed line across the bars (an overall rate)."""
    import matplotlib

    show = fmt or (lambda v: number(v, suffix))
    labels = [wrap(c) for c in categories]
    names = list(series)
    n, k = len(labels), max(1, len(names))
    with matplotlib.rc_context(_rc()):
        fig = _figure(9.0, _height(n, 0.22 * k + 0.14, labels) if horizontal else 5.0)
        ax = fig.add_subplot()
        thick = 0.8 / k
        top = max([float(v) for vals in series.values() for v in vals if v is not None]
                  + [float(m) for m in (marks or []) if m is not None] + [0.0])
        for j, name in enumerate(names):
            values = [float(v) if v is not None else 0.0 for v in series[name]]
            offsets = [i - 0.4 + thick * (j + 0.5) for i in range(n)]
            colour = OKABE_ITO[j % len(OKABE_ITO)]
            if horizontal:
                bars = ax.barh(offsets, values, height=thick, label=name, color=colour)
            else:
                bars = ax.bar(offsets, values, width=thick, label=name, color=colour)
            if marks is None:
                ax.bar_label(bars, labels=[show(v) for v in series[name]], padding=3, fontsize=8)
            else:  # the value goes past the bar or its mark, whichever is further, so the two never overlap
                for i, (off, v) in enumerate(zip(offsets, series[name])):
                    at = max(float(v or 0), float(marks[i] or 0) if i < len(marks) else 0.0)
                    xy, shift = ((at, off), (6, 0)) if horizontal else ((off, at), (0, 6))
                    ax.annotate(show(v), xy, xytext=shift, textcoords="offset points", fontsize=8,
                                va="center" if horizontal else "bottom", ha="left" if horizontal else "center")
        if marks is not None:
            pos = [(i, float(m)) for i, m in enumerate(marks) if m is not None]
            if pos:
                ys, xs = [p[0] for p in pos], [p[1] for p in pos]
                if horizontal:
                    ax.scatter(xs, ys, marker="|", s=400, linewidths=2.5, color="#000000", label=mark_label, zorder=3)
                else:
                    ax.scatter(ys, xs, marker="_", s=400, linewidths=2.5, color="#000000", label=mark_label, zorder=3)
        if annotations:
            if annotation_title and horizontal:
                ax.annotate(annotation_title, (1.0, 1.0), xycoords="axes fraction", xytext=(6, 2),
                            textcoords="offset points", va="bottom", ha="left", fontsize=9, fontweight="bold",
                            annotation_clip=False)
            for i, text in enumerate(annotations):
                if text:
                    if horizontal:
                        ax.annotate(text, (1.0, i), xycoords=("axes fraction", "data"), xytext=(6, 0),
                                    textcoords="offset points", va="center", ha="left", fontsize=9,
                                    color="#000000", annotation_clip=False)
                    else:
                        ax.annotate(text, (i, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 4),
                                    textcoords="offset points", va="bottom", ha="center", fontsize=9,
                                    annotation_clip=False)
        if reference is not None:
            value, label = reference
            line = ax.axvline if horizontal else ax.axhline
            line(value, color=OKABE_ITO[3], linestyle="--", linewidth=1.2, label=label, zorder=4)
            top = max(top, float(value))
        counts = all(isinstance(v, int) for vals in series.values() for v in vals if v is not None)
        _thousands(ax.xaxis if horizontal else ax.yaxis, integer=counts)
        # Headroom for the value labels past the longest bar.
        if horizontal:
            ax.set_yticks(range(n), labels)
            ax.set_ylim(n - 0.5, -0.5)  # first category on top, no empty band above or below
            ax.set_xlim(0, top * 1.18 if top else 1)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
        else:
            ax.set_xticks(range(n), labels, rotation=30 if max(map(len, labels), default=0) > 8 else 0,
                          ha="right" if max(map(len, labels), default=0) > 8 else "center")
            ax.set_ylim(0, top * 1.18 if top else 1)
            ax.set_ylabel(xlabel)
            ax.set_xlabel(ylabel)
        if len(names) > 1 or (marks is not None and mark_label) or reference is not None:
            # Above the plot, left: never over a bar.
            ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False, fontsize=9, borderaxespad=0.2,
                      ncols=len(names) + (marks is not None) + (reference is not None))
        _title(fig, title, subtitle)
    return fig


def funnel_chart(stages: Sequence[Any], counts: Sequence[Number], conversions: Sequence[Number] | None = None, *,
                 title: str, subtitle: str | None = None, xlabel: str = "Leads reaching the stage") -> Figure:
    """Stages as centred bars, widest first, the count on each and `conversions[i]` (% to the next) between."""
    import matplotlib

    labels = [wrap(s) for s in stages]
    n = len(labels)
    values = [float(c or 0) for c in counts]
    top = max(values + [0.0]) or 1.0
    with matplotlib.rc_context(_rc()):
        fig = _figure(9.0, _height(n, 0.62, labels))
        ax = fig.add_subplot()
        bars = ax.barh(range(n), values, left=[(top - v) / 2 for v in values], height=0.62,
                       color=[OKABE_ITO[0]] * n)
        inside = [number(c) if v >= top * 0.12 else "" for c, v in zip(counts, values)]
        ax.bar_label(bars, labels=inside, label_type="center", color="white",
                     fontsize=9, fontweight="bold")
        for i, v in enumerate(values):
            if v < top * 0.12:  # a thin bar: its number goes beside it, readable
                ax.annotate(number(counts[i]), ((top + v) / 2, i), xytext=(4, 0), textcoords="offset points",
                            va="center", ha="left", fontsize=9)
        for i, pct in enumerate(conversions or []):
            if pct is not None and i + 1 < n:
                ax.annotate(f"↓ {number(pct)}%", (top / 2, i + 0.5), ha="center", va="center", fontsize=8,
                            color=GREY, bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"})
        ax.set_yticks(range(n), labels)
        ax.invert_yaxis()
        ax.set_xlim(0, top)
        ax.set_xticks([])
        ax.spines["bottom"].set_visible(False)
        ax.set_xlabel(xlabel + " (arrows: conversion to the next stage)")
        _title(fig, title, subtitle)
    return fig


def heatmap(rows: Sequence[Any], columns: Sequence[Any], values: Sequence[Sequence[Number]], *, title: str,
            xlabel: str, ylabel: str, subtitle: str | None = None, suffix: str = "",
            colour_label: str = "") -> Figure:
    """A grid of numbers: rows × columns, each cell coloured by its value and labelled with it."""
    import matplotlib
    from matplotlib.colors import LinearSegmentedColormap

    row_labels = [wrap(r, 20) for r in rows]
    col_labels = [wrap(c, 14) for c in columns]
    grid = [[float("nan") if v is None else float(v) for v in line] for line in values]
    finite = [v for line in grid for v in line if v == v]
    hi = max(finite + [0.0]) or 1.0
    # White to Okabe–Ito blue: one hue, lightness carries the value (readable in grey too).
    cmap = LinearSegmentedColormap.from_list("leadctl", ["#FFFFFF", OKABE_ITO[0]])
    with matplotlib.rc_context(_rc()):
        fig = _figure(max(6.0, 2.2 + 1.05 * len(col_labels)), _height(len(row_labels), 0.42, row_labels))
        ax = fig.add_subplot()
        im = ax.imshow(grid, aspect="auto", cmap=cmap, vmin=0, vmax=hi)
        for i, line in enumerate(values):
            for j, v in enumerate(line):
                dark = v is not None and float(v) > hi * 0.55
                ax.text(j, i, number(v, suffix), ha="center", va="center", fontsize=8,
                        color="white" if dark else "#000000")
        ax.set_xticks(range(len(col_labels)), col_labels)
        ax.set_yticks(range(len(row_labels)), row_labels)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.spines[:].set_visible(False)
        bar = fig.colorbar(im, ax=ax, shrink=0.8)
        if colour_label:
            bar.set_label(colour_label)
        _title(fig, title, subtitle)
    return fig


OTHER = "other"
OTHER_COLOUR = "#BBBBBB"
DARK = {OKABE_ITO[0], OKABE_ITO[3], OKABE_ITO[7]}  # parts whose value is written in white


def _distinct_series(series: Mapping[str, Sequence[Number]], n: int) -> dict[str, list[float]]:
    """The series with a colour each: past the palette's size the rest (and any given "other") sum into "other"."""
    own = [(name, [float(v or 0) for v in vals]) for name, vals in series.items() if name != OTHER]
    keep = len(OKABE_ITO) if len(own) <= len(OKABE_ITO) and OTHER not in series else len(OKABE_ITO) - 1
    out = dict(own[:keep])
    rest = own[keep:] + ([(OTHER, [float(v or 0) for v in series[OTHER]])] if OTHER in series else [])
    if rest:
        out[OTHER] = [sum(vals[i] for _, vals in rest) for i in range(n)]
    return out


def stacked_bars(categories: Sequence[Any], series: Mapping[str, Sequence[Number]], *, title: str, xlabel: str,
                 ylabel: str = "", subtitle: str | None = None, suffix: str = "") -> Figure:
    """One horizontal bar per category split into its series' parts, the total at the end of each bar."""
    import matplotlib

    labels = [wrap(c) for c in categories]
    n = len(labels)
    series = _distinct_series(series, n)
    totals = [sum(float(series[s][i] or 0) for s in series) for i in range(n)]
    top = max(totals + [0.0]) or 1.0
    with matplotlib.rc_context(_rc()):
        fig = _figure(9.0, _height(n, 0.45, labels) + 0.4)
        ax = fig.add_subplot()
        left = [0.0] * n
        for j, (name, vals) in enumerate(series.items()):
            widths = [float(v or 0) for v in vals]
            colour = OTHER_COLOUR if name == OTHER else OKABE_ITO[j]
            bars = ax.barh(range(n), widths, left=left, height=0.6, label=name, color=colour)
            # A part's value inside it when it is wide enough to hold the text.
            ax.bar_label(bars, labels=[number(v, suffix) if float(v or 0) >= top * 0.08 else "" for v in vals],
                         label_type="center", fontsize=8, color="white" if colour in DARK else "black")
            left = [a + b for a, b in zip(left, widths)]
        for i, t in enumerate(totals):
            ax.annotate(number(round(t, 2), suffix), (t, i), xytext=(4, 0), textcoords="offset points",
                        va="center", ha="left", fontsize=9)
        ax.set_yticks(range(n), labels)
        ax.invert_yaxis()
        ax.set_xlim(0, top * 1.15)
        _thousands(ax.xaxis)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        # Above the plot, left, as bar_chart's: below it the legend ran over the axis label.
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=min(5, max(1, len(series))),
                  frameon=False, fontsize=9, borderaxespad=0.2)
        _title(fig, title, subtitle)
    return fig


def _write(fig: Figure, target: Any, fmt: str) -> None:
    import matplotlib

    with matplotlib.rc_context(_rc()):
        # bbox_inches="tight" measures every text's extent: what sticks out widens the picture.
        fig.savefig(target, format=fmt, bbox_inches="tight", pad_inches=0.15, facecolor="white",
                    metadata={"Date": None} if fmt == "svg" else None)


def render(fig: Figure, fmt: str) -> bytes:
    """The figure as a whole SVG document ("svg") or PNG image ("png")."""
    buf = io.BytesIO()
    _write(fig, buf, fmt)
    return buf.getvalue()


def svg_text(fig: Figure) -> str:
    """The figure as an <svg> element (no XML prolog or DOCTYPE), for inlining in HTML."""
    text = render(fig, "svg").decode("utf-8")
    text = text[text.index("<svg"):]
    start, end = text.find("<metadata>"), text.find("</metadata>")
    if 0 <= start < end:  # the RDF block names external vocabularies: nothing a page needs
        text = text[:start] + text[end + len("</metadata>"):]
    return text


def png_bytes(fig: Figure) -> bytes:
    return render(fig, "png")


FORMATS = {".svg": "svg", ".png": "png"}


def format_of(path: str | Path) -> str:
    """"svg" or "png" from the file's suffix (OutputError for another)."""
    from ..errors import OutputError

    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise OutputError(f"a chart is saved as .svg or .png, not '{suffix or 'a name without a suffix'}'",
                          file=str(path), hint="name the file *.svg or *.png")
    return FORMATS[suffix]


def save(fig: Figure, path: str | Path) -> None:
    """Write the figure to `path` as SVG or PNG, chosen by the suffix; OutputError naming the file on failure."""
    from ..errors import OutputError, os_error

    data = render(fig, format_of(path))
    try:
        with open(path, "wb") as fh:  # an aggregate picture: the user's normal file mode (umask)
            fh.write(data)
    except OSError as exc:
        raise os_error(exc, action="write", path=str(path), cls=OutputError) from exc
