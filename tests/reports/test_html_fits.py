"""The HTML report's tables fit a laptop screen: no column hidden behind a scroll bar at 1280 px."""
from __future__ import annotations

import subprocess
from datetime import datetime

import pytest

from .conftest import CHROMIUM_FLAGS, add_lead, add_owner, chromium

D = datetime(2026, 1, 5, 9, 0)
# Measured in the browser by a probe added to a copy of the page (the report itself has no script).
PROBE = ('<script>window.onload = function () { var o = [];'
         ' document.querySelectorAll(".table-wrap").forEach(function (e) { o.push(e.scrollWidth - e.clientWidth); });'
         ' document.body.setAttribute("data-overflow", o.join(",")); };</script>')


@pytest.mark.slow
def test_the_sources_table_fits_a_1280_pixel_window(store, db_url, tmp_path, run):
    browser = chromium()
    with store.begin() as conn:
        add_owner(conn, "dana", team="emea", capacity=4)
        for i, source in enumerate(("Facebook Lead Ads", "Google Ads", "Webinar", "Trade Show")):
            for j in range(3 + i):
                history = [("new", D), ("mql", D), ("sql", D)] + ([("customer", D)] if j == 0 else [])
                add_lead(conn, source=source, owner="dana", score=10 * j, history=history, created_at=D)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "sources.yaml").write_text(
        "sources:\n" + "".join(f"  - {{name: {s}, cost: {{2026-01: 123456.5}}}}\n"
                               for s in ("Facebook Lead Ads", "Google Ads", "Webinar", "Trade Show")))
    page = tmp_path / "sources.html"
    res = run(db_url, "--rules", rules, "report", "sources", "--html", str(page))
    assert res.exit_code == 0, res.output
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    dom = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          "--window-size=1280,1000", "--virtual-time-budget=2000", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=300).stdout
    assert 'data-overflow="0"' in dom, dom[dom.find("<body"):][:200]
