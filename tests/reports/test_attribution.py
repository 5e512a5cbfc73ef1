from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from fractions import Fraction as F

import pytest

from leadctl.engine.leadquery import LeadFilter
from leadctl.errors import UsageError
from leadctl.reports.attribution import MODELS, Touch, attribution_report, parse_half_life, weights
from leadctl.reports.common import DEFAULT_STAGES
from leadctl.reports.sources import SourceInfo
from leadctl.store.models import Activity

from .conftest import add_lead, browse, chromium

D = datetime(2026, 1, 1)


def touches(n, creation=0):
    return [Touch(D + timedelta(days=i), f"s{i}", f"c{i}", creation=i == creation) for i in range(n)]


# Hand-computed shares for 1, 2, 3 and 5 touches (creation touch first, as without earlier activities).
EXPECTED = {
    "first": {1: [1], 2: [1, 0], 3: [1, 0, 0], 5: [1, 0, 0, 0, 0]},
    "last": {1: [1], 2: [0, 1], 3: [0, 0, 1], 5: [0, 0, 0, 0, 1]},
    "linear": {1: [1], 2: [F(1, 2)] * 2, 3: [F(1, 3)] * 3, 5: [F(1, 5)] * 5},
    "u_shaped": {1: [1], 2: [F(1, 2)] * 2, 3: [F(2, 5), F(1, 5), F(2, 5)],
                 5: [F(2, 5), F(1, 15), F(1, 15), F(1, 15), F(2, 5)]},
    # 5 touches: first, last and the milestone (n // 2 = 2, the creation touch being first) 30% each;
    # the other two share 10%.
    "w_shaped": {1: [1], 2: [F(1, 2)] * 2, 3: [F(1, 3)] * 3,
                 5: [F(3, 10), F(1, 20), F(3, 10), F(1, 20), F(3, 10)]},
}


@pytest.mark.parametrize("model", sorted(EXPECTED))
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_positional_weights_by_hand(model, n):
    got = weights(model, touches(n))
    assert got == [F(x) for x in EXPECTED[model][n]]
    assert sum(got) == 1


def test_w_shaped_milestone_is_the_creation_touch_when_inside():
    got = weights("w_shaped", touches(5, creation=1))
    assert got == [F(3, 10), F(3, 10), F(1, 20), F(1, 20), F(3, 10)]


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_time_decay_weights_by_hand(n):
    # Touches one day apart, conversion at the last one, half-life 1 day: weights 2^-(n-1-i).
    ts = touches(n)
    got = weights("time_decay", ts, ts[-1].at, half_life=timedelta(days=1))
    raw = [2.0 ** -(n - 1 - i) for i in range(n)]
    expected = [w / sum(raw) for w in raw]
    assert sum(got) == 1
    assert [float(g) for g in got] == pytest.approx(expected, abs=1e-12)
    if n == 2:
        assert got == [F(1, 3), F(2, 3)] or [float(g) for g in got] == pytest.approx([1 / 3, 2 / 3], abs=1e-12)


def test_time_decay_default_half_life_is_seven_days():
    ts = [Touch(D, "a", "x", creation=True), Touch(D + timedelta(days=7), "b", "y")]
    got = weights("time_decay", ts, D + timedelta(days=7))
    assert [float(g) for g in got] == pytest.approx([1 / 3, 2 / 3], abs=1e-12)


def test_half_life_option():
    assert parse_half_life("36h") == timedelta(hours=36)
    for bad in ("soon", "0d"):
        with pytest.raises(UsageError):
            parse_half_life(bad)


def _fixture(store):
    """Three leads: a won one with two touches after its creation, a qualified one with one, a bare one."""
    t = Activity.__table__
    with store.begin() as conn:
        won = add_lead(conn, source="google", campaign="spring", created_at=D,
                       history=[("new", D), ("mql", D + timedelta(days=2)), ("customer", D + timedelta(days=10))])
        conn.execute(t.insert(), [
            dict(lead_id=won, type="page_view", at=D + timedelta(days=1), touch_source="LinkedIn", campaign="abm"),
            dict(lead_id=won, type="webinar", at=D + timedelta(days=5), touch_source="webinar", campaign=None),
            dict(lead_id=won, type="page_view", at=D + timedelta(days=20), touch_source="late", campaign=None),  # late
            dict(lead_id=won, type="call", at=D + timedelta(days=3), touch_source=None, campaign=None),  # no touch
        ])
        q = add_lead(conn, source="AdWords", created_at=D, history=[("new", D), ("mql", D + timedelta(days=4))])
        conn.execute(t.insert(), [dict(lead_id=q, type="page_view", at=D + timedelta(days=3),
                                       touch_source="LinkedIn", campaign=None)])
        add_lead(conn, source=None, created_at=D + timedelta(days=40))


GOOGLE = SourceInfo("Google Ads", "paid_search", ("google", "adwords"), {"2026-01": 300.0})


@pytest.mark.parametrize("model", MODELS)
def test_every_model_credits_exactly_the_conversions(store, model):
    _fixture(store)
    report = attribution_report(store, DEFAULT_STAGES, [GOOGLE], LeadFilter(), model=model)
    assert report.conversions == {"leads": 3, "qualified": 2, "won": 1}
    for dimension in ("source", "campaign"):
        rows = [r for r in report.rows if r.dimension == dimension]
        assert sum(r.leads for r in rows) == 3
        assert sum(r.qualified for r in rows) == 2
        assert sum(r.won for r in rows) == 1
        for i, name in ((3, "leads"), (4, "qualified"), (5, "won")):
            recs = [rec for rec in report.records() if rec[0] == dimension]
            assert abs(sum(rec[i] for rec in recs) - report.conversions[name]) < 1e-9


def test_linear_credits_by_hand(store):
    _fixture(store)
    report = attribution_report(store, DEFAULT_STAGES, [GOOGLE], LeadFilter(), model="linear")
    rows = {(r.dimension, r.name): r for r in report.rows}
    g = rows[("source", "Google Ads")]
    # Won lead: touches google (creation), LinkedIn (d1), webinar (d5): won at d10 → 1/3 each.
    # Its qualification at d2 counts google and LinkedIn: 1/2 each. The other lead: AdWords + linkedin, 1/2 each.
    assert (g.leads, g.qualified, g.won) == (F(2), F(1, 2) + F(1, 2), F(1, 3))
    li = rows[("source", "LinkedIn")]
    assert (li.leads, li.qualified, li.won) == (F(0), F(1), F(1, 3))
    assert rows[("source", "webinar")].won == F(1, 3)
    assert rows[("source", "late")].won == 0 and rows[("source", "late")].touches == 1
    assert rows[("source", "(none)")].leads == 1
    assert g.spend == 300.0 and g.cost_per_won == 900.0
    assert rows[("campaign", "spring")].won == F(1, 3) and rows[("campaign", "(none)")].won == F(1, 3)


def test_first_and_u_shaped_by_hand(store):
    _fixture(store)
    first = {(r.dimension, r.name): r for r in
             attribution_report(store, DEFAULT_STAGES, [GOOGLE], LeadFilter(), model="first").rows}
    assert first[("source", "Google Ads")].won == 1 and first[("source", "LinkedIn")].won == 0
    u = {(r.dimension, r.name): r for r in
         attribution_report(store, DEFAULT_STAGES, [GOOGLE], LeadFilter(), model="u_shaped").rows}
    assert (u[("source", "Google Ads")].won, u[("source", "LinkedIn")].won, u[("source", "webinar")].won) == \
        (F(2, 5), F(1, 5), F(2, 5))


def test_unknown_model_is_refused(store):
    with pytest.raises(UsageError, match="linear"):
        attribution_report(store, DEFAULT_STAGES, [], LeadFilter(), model="lineer")


def test_cli_attribution(store, db_url, run):
    _fixture(store)
    res = run(db_url, "report", "attribution", "--model", "w_shaped", "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    rows = doc["rows"]
    assert doc["totals"] == {"leads": 3, "qualified": 2, "won": 1, "spend": None}
    assert abs(sum(r["won"] for r in rows if r["dimension"] == "source") - 1) < 1e-9
    assert all(isinstance(r["won"], float) and isinstance(r["touches"], int) for r in rows)
    res = run(db_url, "report", "attribution", "--model", "time_decay", "--half-life", "2d", "--format", "csv")
    assert res.exit_code == 0, res.output
    recs = list(csv.DictReader(io.StringIO(res.output)))
    assert abs(sum(float(r["leads"]) for r in recs if r["dimension"] == "campaign") - 3) < 1e-9
    res = run(db_url, "report", "attribution")
    assert res.exit_code == 0 and "Attribution" in res.output and "LinkedIn" in res.output
    res = run(db_url, "report", "attribution", "--model", "nope")
    assert res.exit_code == 2 and "first, last, linear" in res.output


def test_cli_attribution_pictures(store, db_url, run, tmp_path):
    import xml.etree.ElementTree as ET

    _fixture(store)
    svg, png, page = tmp_path / "a.svg", tmp_path / "a.png", tmp_path / "a.html"
    res = run(db_url, "report", "attribution", "--svg", str(svg), "--png", str(png), "--html", str(page))
    assert res.exit_code == 0, res.output
    text = svg.read_text()
    ET.fromstring(text)
    assert "LinkedIn" in text and "webinar" in text and "Marketing qualified" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in page.read_text() and "AdWords" in page.read_text()


def test_activity_import_reads_utm_columns(store, db_url, run_cli, tmp_path):
    from conftest import write_csv, write_rules

    with store.begin() as conn:
        add_lead(conn, email="ada@example.com", source="google", created_at=D,
                 history=[("new", D), ("customer", D + timedelta(days=3))])
    events = write_csv(tmp_path / "events.csv", ["Email", "Event", "Timestamp", "utm_source", "UTM Campaign"],
                       [["ada@example.com", "page_view", "2026-01-02T10:00", "newsletter", "winter"],
                        ["ada@example.com", "page_view", "2026-01-02T11:00", "", ""]])
    rules = write_rules(tmp_path / "rules", stages="version: 1\n")
    res = run_cli("--db", db_url, "--rules", rules, "--now", "2026-03-01T12:00", "activity", "import", events,
                  "--no-process")
    assert res.exit_code == 0, res.output
    with store.connect() as conn:
        got = conn.execute(Activity.__table__.select().order_by(Activity.__table__.c.at)).mappings().all()
    assert [(a["touch_source"], a["campaign"]) for a in got] == [("newsletter", "winter"), (None, None)]
    report = attribution_report(store, DEFAULT_STAGES, [], LeadFilter(), model="last")
    rows = {(r.dimension, r.name): r for r in report.rows}
    assert rows[("source", "newsletter")].won == 1 and rows[("campaign", "winter")].won == 1
    assert rows[("source", "google")].touches == 1 and rows[("source", "google")].won == 0


def test_activity_log_records_a_touch(store, db_url, run_cli, tmp_path):
    with store.begin() as conn:
        add_lead(conn, email="bo@example.com", source="fair", created_at=D)
    res = run_cli("--db", db_url, "--rules", tmp_path / "none", "--now", "2026-03-01T12:00", "activity", "log",
                  "bo@example.com", "page_view", "--touch-source", "newsletter", "--campaign", "spring",
                  "--no-process")
    assert res.exit_code == 0, res.output
    with store.connect() as conn:
        row = conn.execute(Activity.__table__.select()).mappings().one()
    assert (row["touch_source"], row["campaign"], row["source"]) == ("newsletter", "spring", "manual")


@pytest.mark.parametrize("model", ["first", "linear", "w_shaped", "time_decay"])
def test_olist_credits_add_up(olist_store, model):
    store, mqls, deals = olist_store
    report = attribution_report(store, DEFAULT_STAGES, [], LeadFilter(), model=model)
    assert report.conversions == {"leads": len(mqls), "qualified": len(mqls), "won": len(deals)}
    rows = [r for r in report.rows if r.dimension == "source"]
    assert sum(r.leads for r in rows) == len(mqls) and sum(r.won for r in rows) == len(deals)
    # One touch per lead (its origin): every model gives the origin all of the credit.
    won = {r.name: r.won for r in rows}
    expected: dict[str, int] = {}
    for m in mqls:
        if m["mql_id"] in deals:
            expected[m["origin"] or "(none)"] = expected.get(m["origin"] or "(none)", 0) + 1
    assert {k: v for k, v in won.items() if v} == expected


@pytest.mark.slow
def test_attribution_page_renders_in_a_browser(store, db_url, tmp_path, run):
    browser = chromium()
    _fixture(store)
    page = tmp_path / "attribution.html"
    assert run(db_url, "report", "attribution", "--model", "u_shaped", "--html", str(page)).exit_code == 0
    dom, colours = browse(browser, page, tmp_path)
    assert "<h1>Attribution — all time · model u_shaped</h1>" in dom
    assert dom.count("<svg") == 2 and "<table>" in dom and "LinkedIn" in dom
    assert len(colours) >= 20
