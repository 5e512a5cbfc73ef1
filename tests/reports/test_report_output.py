"""Report outputs: charts that say what the table says, tables that fit, data outputs that are data.

Charts are checked for what they say, not pixel by pixel: the SVG parses as XML and holds
each category and value as text; the PNG decodes at the size its header gives.
"""
from __future__ import annotations

import csv
import io
import json
import os
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime

import pytest

from leadctl.reports.tables import Column, fit, overhead

from .conftest import add_lead, add_owner, browse, chromium

D = datetime(2026, 1, 5, 9, 0)
SOURCES = {"Webinar": (3, 1), "Google Ads": (5, 2), "Referral": (2, 0)}  # source: (leads, won)


def build(store):
    with store.begin() as conn:
        add_owner(conn, "dana", team="emea", capacity=4)
        for source, (leads, won) in SOURCES.items():
            for i in range(leads):
                history = [("new", D), ("mql", D)] + ([("customer", D)] if i < won else [])
                add_lead(conn, source=source, owner="dana", score=10 * i, history=history, created_at=D)


def svg_texts(path) -> list[str]:
    """Every text of an SVG file (each <text> element's content), after parsing it as XML."""
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    return ["".join(t.itertext()).strip() for t in root.iter() if t.tag.endswith("text")]


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_sources_svg_names_every_source_and_value(store, db_url, tmp_path, run):
    build(store)
    svg = tmp_path / "sources.svg"
    res = run(db_url, "report", "sources", "--svg", str(svg))
    assert res.exit_code == 0, res.output
    texts = svg_texts(svg)
    for source, (leads, won) in SOURCES.items():
        assert source in texts
        assert str(leads) in texts and str(won) in texts
    assert "Sources — all time" in texts and "Leads" in texts and "Won %" in texts
    assert {"33.3%", "40%", "0%"} <= set(texts)  # the won rates of Webinar (1/3), Google Ads (2/5), Referral


def test_funnel_svg_labels_stages_by_display_name_with_conversions(store, db_url, tmp_path, run):
    build(store)
    svg = tmp_path / "funnel.svg"
    assert run(db_url, "report", "funnel", "--svg", str(svg)).exit_code == 0
    texts = svg_texts(svg)
    for label in ("New", "Marketing qualified", "Sales qualified", "Opportunity", "Customer"):
        assert label in texts
    assert "10" in texts and "3" in texts            # reached New, Customer
    assert "↓ 100%" in texts                          # New → MQL: every lead
    assert not {"mql", "sql"} & set(texts)


def test_long_names_are_wrapped_whole_never_cut(store, db_url, tmp_path, run):
    name = "A source with a remarkably long name indeed, longer than one line of a chart"
    with store.begin() as conn:
        add_lead(conn, source=name, created_at=D, history=[("new", D)])
    svg = tmp_path / "long.svg"
    assert run(db_url, "report", "sources", "--svg", str(svg)).exit_code == 0
    texts = svg_texts(svg)
    assert " ".join(t for t in texts if t and t in name) == name     # every word, over several lines
    assert not any("…" in t for t in texts)


def test_png_decodes_at_the_size_its_header_gives(store, db_url, tmp_path, run):
    import matplotlib.image

    build(store)
    for report in ("funnel", "sources", "owners", "scoring"):
        png = tmp_path / f"{report}.png"
        res = run(db_url, "report", report, "--png", str(png))
        assert res.exit_code == 0, res.output
        width, height = png_size(png)
        pixels = matplotlib.image.imread(str(png))
        assert pixels.shape[:2] == (height, width)
        assert 700 <= width <= 1400 and 250 <= height <= 2000  # 9 inches at 100 dpi, trimmed to what is drawn


def test_cohorts_heat_map_and_html_page(store, db_url, tmp_path, run):
    build(store)
    with store.begin() as conn:
        add_lead(conn, source="Webinar", created_at=datetime(2026, 2, 3), history=[("new", datetime(2026, 2, 3))])
    page = tmp_path / "funnel.html"
    assert run(db_url, "report", "funnel", "--by", "month", "--html", str(page)).exit_code == 0
    text = page.read_text(encoding="utf-8")
    assert text.count("<svg") == 2                                  # the funnel and the cohort heat map
    assert "<script" not in text and "<link" not in text and "src=" not in text   # self-contained
    assert "2026-01" in text and "2026-02" in text and "Marketing qualified" in text


def test_json_rows_are_groups_with_totals_apart_and_the_same_keys_in_every_mode(store, db_url, run):
    build(store)
    plain = json.loads(run(db_url, "report", "funnel", "--format", "json").out)
    by_month = json.loads(run(db_url, "report", "funnel", "--format", "json", "--by", "month").out)
    assert set(plain) == set(by_month) == {"rows", "totals"}
    assert list(plain["rows"][0]) == list(by_month["rows"][0])
    assert plain["rows"][0]["cohort"] is None and by_month["rows"][0]["cohort"] == "2026-01"
    assert plain["rows"][0]["kind"] is None                       # missing is null, never ""
    assert plain["totals"] == {"leads": 10, "won": 3, "lost": 0}
    sources = json.loads(run(db_url, "report", "sources", "--format", "json").out)
    assert "Total" not in [r["source"] for r in sources["rows"]]
    assert sources["totals"]["leads"] == 10 and sources["totals"]["won"] == 3
    assert isinstance(sources["totals"]["won_rate_pct"], float)
    for row in sources["rows"]:
        assert isinstance(row["leads"], int) and row["spend"] is None and row["channel"] is None
    owners = json.loads(run(db_url, "report", "owners", "--format", "json").out)
    assert owners["totals"]["open_leads"] == 7 and owners["totals"]["capacity"] == 4
    scoring = json.loads(run(db_url, "report", "scoring", "--format", "json").out)
    assert scoring["totals"] == {"leads": 10, "won": 3, "won_rate_pct": 30.0}


def test_csv_has_a_total_row_only_when_asked(store, db_url, run):
    build(store)
    rows = list(csv.DictReader(io.StringIO(run(db_url, "report", "sources", "--format", "csv").out)))
    assert sorted(r["source"] for r in rows) == sorted(SOURCES)
    rows = list(csv.DictReader(io.StringIO(run(db_url, "report", "sources", "--format", "csv", "--totals").out)))
    assert rows[-1]["source"] == "Total" and rows[-1]["leads"] == "10" and rows[-1]["channel"] == ""


def test_report_files_get_the_normal_mode(store, db_url, tmp_path, run):
    build(store)
    umask = os.umask(0o022)
    try:
        paths = {p: tmp_path / f"o.{p}" for p in ("svg", "png", "html", "csv")}
        res = run(db_url, "report", "owners", "--svg", str(paths["svg"]), "--png", str(paths["png"]),
                  "--html", str(paths["html"]), "--format", "csv", "--output", str(paths["csv"]))
        assert res.exit_code == 0, res.output
    finally:
        os.umask(umask)
    for p in paths.values():
        assert os.stat(p).st_mode & 0o777 == 0o644, p


def test_terminal_table_fits_and_never_cuts_a_number(store, db_url, run, run_cli, tmp_path):
    build(store)
    with store.begin() as conn:
        add_lead(conn, source="A source with a remarkably long name indeed", created_at=D, history=[("new", D)])
    for width in (60, 80, 120, 200):
        res = run_cli("--db", db_url, "--rules", tmp_path / "none", "--now", "2026-03-01T12:00", "report", "sources",
                      env={"LEADCTL_WIDTH": str(width), "NO_COLOR": "1"})
        assert res.exit_code == 0, res.output
        lines = res.out.splitlines()
        assert all(len(line.rstrip()) <= width for line in lines), (width, res.out)
        assert any("│    11 │" in line for line in lines)          # the total, whole
        assert "Source" in res.out and "Leads" in res.out and "Won" in res.out
        header = next(line for line in lines if line.startswith("┃"))
        assert all(cell.strip() for cell in header.strip("┃").split("┃"))  # every column has a header
    assert "A source with a remarkably long name indeed" in res.out     # 200: room for it whole
    res = run(db_url, "report", "funnel")
    assert "Marketing qualified" in res.out and "(lost)" not in res.out and " mql " not in res.out


def test_fit_leaves_out_bars_then_shortens_names_then_drops_by_priority():
    cols = [Column("Name", numeric=False, shrink=True, min_width=6), Column("Bar", bar=True),
            Column("Count"), Column("Extra", priority=1), Column("More", priority=2)]
    cells = [["a very long name here", 0.5, "1,234,567", "12", "3"]]
    natural = [21, 8, 9, 5, 4]
    assert fit(cols, cells, 200)[:1] == [21] and fit(cols, cells, 200)[1] == 24   # spare width grows the bar
    assert fit(cols, cells, sum(natural) + overhead(5) - 1)[1] is None             # the bar goes first
    w = fit(cols, cells, 21 + 9 + 5 + 4 + overhead(4) - 3)
    assert w == [18, None, 9, 5, 4]                                                # then the name shortens
    w = fit(cols, cells, 16 + 9 + 5 + overhead(3))
    assert w == [16, None, 9, 5, None]                                             # then "More" goes
    w = fit(cols, cells, 6 + 9 + overhead(2))
    assert w == [6, None, 9, None, None]                                           # never a number cut
    assert fit(cols, cells, 5)[2] == 9


def test_a_table_report_does_not_import_matplotlib(store, db_url, tmp_path):
    build(store)
    code = ("import sys; from leadctl.cli.app import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n")
    for report in ("funnel", "sources"):
        done = subprocess.run([sys.executable, "-c", code, "--db", db_url, "--rules", str(tmp_path / "none"),
                               "report", report, "--format", "json"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------- in a real browser

@pytest.mark.slow
def test_html_page_renders_charts_and_tables_in_a_browser(store, db_url, tmp_path, run):
    browser = chromium()
    build(store)
    page = tmp_path / "sources.html"
    assert run(db_url, "report", "sources", "--html", str(page)).exit_code == 0
    dom, colours = browse(browser, page, tmp_path)
    assert "<h1>Sources — all time</h1>" in dom
    assert dom.count("<svg") == 1 and "<table>" in dom and "Google Ads" in dom
    assert len(colours) >= 20                                     # not blank: text, bars, table lines
    blue, orange = (0, 114, 178), (230, 159, 0)                   # the Okabe–Ito bars of leads and won
    assert blue in colours and orange in colours


def test_save_chooses_the_format_by_suffix_and_names_the_file_it_refuses(tmp_path):
    from leadctl.errors import OutputError
    from leadctl.reports.charts import bar_chart, save

    fig = bar_chart(["a", "b"], {"Leads": [1, 2]}, title="T", xlabel="Leads")
    save(fig, tmp_path / "c.svg")
    save(fig, tmp_path / "c.PNG")
    assert (tmp_path / "c.svg").read_text().lstrip().startswith("<?xml")
    assert png_size(tmp_path / "c.PNG")[0] > 0
    with pytest.raises(OutputError, match=r"c\.pdf: a chart is saved as \.svg or \.png"):
        save(fig, tmp_path / "c.pdf")
    with pytest.raises(OutputError, match="missing"):
        save(fig, tmp_path / "missing" / "c.svg")


def test_stacked_bars_never_repeat_a_colour():
    """Past the palette's eight colours the smallest series fold into a grey "other", so no two parts look alike."""
    from leadctl.reports.charts import stacked_bars

    series = {f"source {i}": [float(10 - i), 1.0] for i in range(10)}
    series["other"] = [2.0, 0.0]
    fig = stacked_bars(["Leads", "Won"], series, title="t", xlabel="x")
    legend = fig.axes[0].get_legend()
    names = [t.get_text() for t in legend.get_texts()]
    colours = [tuple(h.get_facecolor()) for h in legend.legend_handles]
    assert names[-1] == "other" and len(names) == 8
    assert len(set(colours)) == len(colours)
    # Nothing is lost: the bars still add up to every series' total.
    widths = [p.get_width() for p in fig.axes[0].patches]
    assert sum(widths) == sum(sum(v) for v in series.values())
