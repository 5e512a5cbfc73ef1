"""One self-contained HTML page for a report: title, charts (inline SVG) and the full tables.

    page = html_page("Sources — all time", [Section("Leads and wins by source", charts=[svg_text(fig)],
                                                     tables=[HtmlTable(headers, rows, numeric)])],
                     subtitle="as of 2026-03-01 12:00")

The page needs nothing else to be read: no script, no stylesheet or font from a
network, charts as inline SVG. It reads on a laptop screen (charts scale to the
width) and prints (tables break between rows, sections do not start at a page
bottom). Every cell is escaped: lead data (source and owner names) is text here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any, Sequence

_CSS = """
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; color: #1a1a1a;
       background: #fff; margin: 2rem auto; max-width: 72rem; padding: 0 1.5rem; line-height: 1.4; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
.subtitle { color: #555; margin: 0 0 1.5rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .75rem; border-bottom: 1px solid #ddd; padding-bottom: .25rem; }
figure { margin: 0 0 1.25rem; }
figure svg { max-width: 100%; height: auto; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: .9rem; margin: 0 0 1rem; }
caption { text-align: left; font-weight: bold; padding: 0 0 .4rem; }
th, td { padding: .3rem .7rem; border-bottom: 1px solid #e3e3e3; white-space: nowrap; }
th { background: #f2f5f8; text-align: left; border-bottom: 2px solid #0072B2;
     white-space: normal; vertical-align: bottom; }  /* headers wrap, so a wide table fits; values never do */
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; border-top: 2px solid #999; }
tbody tr:nth-child(even) td { background: #fafafa; }
footer { color: #777; font-size: .8rem; margin-top: 2rem; }
@media print {
  body { margin: 0; max-width: none; }
  section { break-inside: avoid-page; }
  tr { break-inside: avoid; }
  .table-wrap { overflow: visible; }
}
"""


@dataclass
class HtmlTable:
    """A table as the page shows it: `cells` already formatted as text, `numeric[i]` right-aligns column i."""

    headers: Sequence[str]
    cells: Sequence[Sequence[Any]]
    numeric: Sequence[bool] = ()
    caption: str | None = None
    totals: Sequence[Any] | None = None   # one more row, set apart as the total


@dataclass
class Section:
    heading: str | None = None
    charts: list[str] = field(default_factory=list)      # <svg> elements (charts.svg_text)
    tables: list[HtmlTable] = field(default_factory=list)


def _cell(value: Any) -> str:
    return "" if value is None else escape(str(value))


def _table(t: HtmlTable) -> str:
    numeric = list(t.numeric) + [False] * (len(t.headers) - len(t.numeric))

    def cls(i: int) -> str:
        return ' class="num"' if numeric[i] else ""

    out = ['<div class="table-wrap"><table>']
    if t.caption:
        out.append(f"<caption>{escape(t.caption)}</caption>")
    out.append("<thead><tr>" + "".join(f'<th scope="col"{cls(i)}>{escape(h)}</th>'
                                       for i, h in enumerate(t.headers)) + "</tr></thead><tbody>")
    for row in t.cells:
        out.append("<tr>" + "".join(f"<td{cls(i)}>{_cell(v)}</td>" for i, v in enumerate(row)) + "</tr>")
    out.append("</tbody>")
    if t.totals is not None:
        out.append('<tfoot><tr class="total">' + "".join(f"<td{cls(i)}>{_cell(v)}</td>"
                                                        for i, v in enumerate(t.totals)) + "</tr></tfoot>")
    out.append("</table></div>")
    return "".join(out)


def html_page(title: str, sections: Sequence[Section], *, subtitle: str | None = None,
              footer: str | None = None) -> str:
    """The whole page as text (UTF-8, inline CSS and SVG, no script)."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
             f"<header><h1>{escape(title)}</h1>"]
    if subtitle:
        parts.append(f'<p class="subtitle">{escape(subtitle)}</p>')
    parts.append("</header><main>")
    for s in sections:
        parts.append("<section>")
        if s.heading:
            parts.append(f"<h2>{escape(s.heading)}</h2>")
        for svg in s.charts:
            parts.append(f"<figure>{svg}</figure>")
        for t in s.tables:
            parts.append(_table(t))
        parts.append("</section>")
    parts.append("</main>")
    if footer:
        parts.append(f"<footer>{escape(footer)}</footer>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
