"""Report gaps a new user found: picture suffixes, `report scoring --model` through the report view."""
from __future__ import annotations

import json

import pytest

from .test_report_output import build


@pytest.mark.parametrize("option,name", [("--png", "out.gif"), ("--svg", "out.png"), ("--png", "out.svg")])
def test_picture_suffix_must_match_its_option(store, db_url, tmp_path, run, option, name):
    build(store)
    path = tmp_path / name
    res = run(db_url, "report", "sources", option, str(path))
    assert res.exit_code == 2, res.output
    assert not path.exists()
    err = res.err.strip()
    assert len(err.splitlines()) <= 2 and option in err and str(path) in err


def test_picture_suffix_is_case_blind(store, db_url, tmp_path, run):
    build(store)
    res = run(db_url, "report", "sources", "--png", str(tmp_path / "a.PNG"), "--svg", str(tmp_path / "a.Svg"))
    assert res.exit_code == 0, res.err
    assert (tmp_path / "a.PNG").stat().st_size and (tmp_path / "a.Svg").stat().st_size


@pytest.fixture
def fitted(store, db_url, tmp_path, run_cli):
    """A store of generated leads and a rules folder holding the model fitted on them."""
    from tests.model.test_fit import NOW, generate

    rules = tmp_path / "rules"
    rules.mkdir()
    generate(store, 600, leak=False)
    assert run_cli("--db", db_url, "--rules", rules, "--now", NOW.isoformat(), "model", "fit",
                   "--min-each", "20").code == 0
    return lambda *args: run_cli("--db", db_url, "--rules", rules, "report", "scoring", "--model", *args,
                                 env={"LEADCTL_WIDTH": "120", "NO_COLOR": "1"})


def test_model_comparison_json_is_rows_and_totals(fitted):
    res = fitted("--format", "json")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert set(doc) == {"rows", "totals"}
    assert {tuple(r) for r in doc["rows"]} == {("figure", "model", "model_actual", "score", "score_actual")}
    figures = {r["figure"]: r for r in doc["rows"]}
    assert figures["AUC"]["score"] == 0.5 and figures["log loss"]["score"] is None
    assert set(doc["totals"]) == {"leads", "won", "holdout_from", "fitted_at"}
    assert doc["totals"]["leads"] == figures["held-out leads"]["model"] and isinstance(doc["totals"]["won"], int)


def test_model_comparison_draws_its_charts(fitted, tmp_path):
    from .test_report_output import png_size, svg_texts

    svg, png, html = tmp_path / "m.svg", tmp_path / "m.png", tmp_path / "m.html"
    res = fitted("--svg", svg, "--png", png, "--html", html)
    assert res.code == 0, res.err
    texts = svg_texts(svg)
    assert "decile 1" in texts and "decile 10" in texts and "Model's decile" in texts and "Score's decile" in texts
    assert any(t.startswith("Model vs hand-written score") for t in texts)
    assert min(png_size(png)) > 100
    page = html.read_text()
    assert page.count("<svg") >= 2 and "Lift" in page and "AUC" in page and "top 10%" in page
