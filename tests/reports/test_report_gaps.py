"""Report gaps a new user found: picture suffixes, `report scoring --model` through the report view."""
from __future__ import annotations

import pytest

from .test_report_output import build


@pytest.mark.parametrize("option,name", [("--png", "out.gif"), ("--svg", "out.png"), ("--png", "out")])
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
