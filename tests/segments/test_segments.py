"""Segments: membership computed by `process`, `--segment` filtering every command that lists leads."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import pytest
from sqlalchemy import select

from leadctl.engine.segments import refresh_segments, resolve_segment, segments_of
from leadctl.errors import UsageError
from leadctl.rules.loader import load_rules
from leadctl.store.tables import LEADS

import conftest as factories

NOW = datetime(2026, 11, 20, 10, 0)
SEGMENTS_YAML = """
segments:
  - name: enterprise
    when: {employees: {gte: 1000}}
  - name: Quiet
    description: no activity for a month
    when: {days_since_created: {gte: 30}, stage: [new, mql]}
"""
FOLLOWUPS_YAML = """
cadences:
  - name: Call
    when: {temperature: hot}
    steps:
      - {after: 0m, action: call}
"""


@pytest.fixture
def rules_dir(tmp_path):
    return factories.write_rules(tmp_path / "rules", segments=SEGMENTS_YAML, followups=FOLLOWUPS_YAML)


@pytest.fixture
def seeded(store, rules_dir, db_url, run_cli):
    """Three leads: a big one, a small one, and a big one created 40 days ago; then `process`."""
    big = factories.add_lead(store, at=NOW, email="big@corp.example", employees=5000, source="Web",
                             temperature="hot")
    small = factories.add_lead(store, at=NOW, email="small@shop.example", employees=10, source="Web",
                               temperature="hot")
    old = factories.add_lead(store, at=datetime(2026, 10, 1), email="old@corp.example", employees=1200,
                             source="Fair", temperature="hot")
    base = ("--db", db_url, "--rules", str(rules_dir), "--now", NOW.isoformat())
    r = run_cli(*base, "process")
    assert r.code == 0, r.err
    return base, big, small, old


def test_process_computes_membership(store, seeded):
    _, big, small, old = seeded
    with store.connect() as conn:
        assert segments_of(conn, big) == ["enterprise"]
        assert segments_of(conn, small) == []
        assert segments_of(conn, old) == ["Quiet", "enterprise"]


def test_membership_follows_the_rules_and_the_clock(store, rules_dir, tmp_path, seeded):
    _, big, small, old = seeded
    only_quiet = load_rules(str(factories.write_rules(tmp_path / "other", segments="""
        segments:
          - name: Quiet
            when: {days_since_created: {gte: 30}}
        """)))
    with store.begin() as conn:
        counts = refresh_segments(conn, only_quiet, datetime(2027, 1, 1))
        assert counts == {"Quiet": 3}
        assert segments_of(conn, big) == ["Quiet"]    # 'enterprise' is gone with its rule


def test_leads_list_and_export_filter_by_segment(seeded, run_cli):
    base, big, small, old = seeded
    listed = run_cli(*base, "leads", "list", "--segment", "ENTERPRISE", "--format", "json")
    assert listed.code == 0, listed.err
    assert sorted(r["id"] for r in json.loads(listed.out)) == [big, old]
    exported = run_cli(*base, "export", "leads", "--segment", "quiet", "--format", "csv")
    assert exported.code == 0, exported.err
    assert [int(r["id"]) for r in csv.DictReader(io.StringIO(exported.out))] == [old]


def test_reports_filter_by_segment(seeded, run_cli):
    base, *_ = seeded
    sources = run_cli(*base, "report", "sources", "--segment", "enterprise", "--format", "json")
    assert sources.code == 0, sources.err
    rows = {r["source"]: r["leads"] for r in json.loads(sources.out)["rows"]}
    assert rows == {"Web": 1, "Fair": 1}
    funnel = run_cli(*base, "report", "funnel", "--segment", "Quiet", "--format", "json")
    assert funnel.code == 0, funnel.err
    everyone = run_cli(*base, "report", "funnel", "--format", "json")
    assert json.loads(funnel.out)["totals"]["leads"] == 1
    assert json.loads(everyone.out)["totals"]["leads"] == 3


def test_followups_due_filters_by_segment(seeded, run_cli):
    base, big, small, old = seeded
    due = run_cli(*base, "--now", "2026-12-01T12:00:00", "followups", "due", "--segment", "enterprise",
                  "--format", "json")
    assert due.code == 0, due.err
    assert sorted(t["lead_id"] for t in json.loads(due.out)) == [big, old]
    everyone = run_cli(*base, "--now", "2026-12-01T12:00:00", "followups", "due", "--format", "json")
    assert sorted(t["lead_id"] for t in json.loads(everyone.out)) == [big, small, old]


def test_an_unknown_segment_is_a_usage_error(seeded, run_cli):
    base, *_ = seeded
    for args in (("leads", "list"), ("export", "leads"), ("report", "sources"), ("followups", "due")):
        r = run_cli(*base, *args, "--segment", "enterprize")
        assert r.code == 2, (args, r.err)
        assert "unknown segment 'enterprize' (did you mean 'enterprise'?)" in r.err
    with pytest.raises(UsageError) as err:
        resolve_segment(object(), "x")   # rules without segments.yaml
    assert err.value.hint == "define segments in rules/segments.yaml"


def test_segments_file_is_checked(tmp_path, run_cli):
    folder = factories.write_rules(tmp_path / "bad", segments="""
        segments:
          - name: a
            when: {employes: {gte: 1}}
          - name: a
            when: {stage: new}
        """)
    r = run_cli("--rules", str(folder), "rules", "check")
    assert r.code == 2
    assert "segments.yaml:4: rule 'a': unknown field 'employes' (did you mean 'employees'?)" in r.out + r.err
    assert "segments.yaml:5: duplicate segment 'a'" in r.out + r.err


def test_leads_show_names_the_segments(seeded, run_cli):
    base, big, small, old = seeded
    shown = run_cli(*base, "leads", "show", str(old), "--format", "json")
    assert shown.code == 0, shown.err
    assert json.loads(shown.out)["segments"] == ["Quiet", "enterprise"]
    assert json.loads(run_cli(*base, "leads", "show", str(small), "--format", "json").out)["segments"] == []
    table = run_cli(*base, "leads", "show", str(big))
    assert "segments" in table.out and "enterprise" in table.out


@pytest.mark.parametrize("report", ["owners", "scoring", "attribution", "velocity", "lost"])
def test_every_report_takes_a_segment(seeded, run_cli, report):
    base, *_ = seeded
    assert run_cli(*base, "report", report, "--segment", "enterprise", "--format", "json").code == 0
    assert run_cli(*base, "report", report, "--segment", "nope").code == 2


def test_rules_test_segment_with_the_segments_condition(store, tmp_path, run_cli, db_url):
    """`segment: enterprise` in scoring is the segment's own condition, evaluated in the same run."""
    folder = factories.write_rules(tmp_path / "r", segments=SEGMENTS_YAML, scoring="""
        fit:
          rules:
            - name: Big company
              when: {segment: enterprise}
              points: 40
            - name: Either
              when: {segment: [enterprise, quiet], not: {segment: Quiet}}
              points: 2
        """)
    big = factories.add_lead(store, at=NOW, employees=5000)
    small = factories.add_lead(store, at=NOW, employees=10)
    old = factories.add_lead(store, at=datetime(2026, 10, 1), employees=3000)
    assert run_cli("--db", db_url, "--rules", str(folder), "--now", NOW.isoformat(), "process").code == 0
    from sqlalchemy import select

    from leadctl.store.models import Lead

    t = Lead.__table__
    with store.connect() as conn:
        fit = dict(conn.execute(select(t.c.id, t.c.fit_score)).all())
    assert (fit[big], fit[small], fit[old]) == (42, 0, 40)


def test_unknown_or_circular_segments_in_rules_are_reported(tmp_path, run_cli):
    folder = factories.write_rules(tmp_path / "r", segments="""
        segments:
          - name: enterprise
            when: {employees: {gte: 1000}}
          - name: loop
            when: {segment: loop}
        """, scoring="""
        fit:
          rules:
            - name: Typo
              when: {segment: enterprize, stage: new}
              points: 5
        """)
    r = run_cli("--rules", str(folder), "rules", "check")
    assert r.code == 2
    assert "scoring.yaml:5: rule 'Typo': unknown segment 'enterprize' (did you mean 'enterprise'?)" in r.out + r.err
    assert "segments.yaml:6: rule 'loop': segment 'loop' refers to itself" in r.out + r.err


def test_report_sources_by_segment_counts_a_lead_in_each_of_its_segments(seeded, run_cli):
    base, *_ = seeded
    r = run_cli(*base, "report", "sources", "--by", "segment", "--format", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    rows = {(x["segment"], x["source"]): x["leads"] for x in data["rows"]}
    # old@ is in Quiet and enterprise: a row of each; small@ is in none (segment null)
    assert rows == {("enterprise", "Web"): 1, ("enterprise", "Fair"): 1, ("Quiet", "Fair"): 1, (None, "Web"): 1}
    assert data["totals"]["leads"] == 3  # each lead once
    assert all(x["spend"] is None for x in data["rows"])
    table = run_cli(*base, "report", "sources", "--by", "segment", env={"LEADCTL_WIDTH": "160"})
    assert table.code == 0, table.err
    assert "by segment: a lead in several segments counts in each, the total once" in table.out
    assert "Segment" in table.out and "(no segment)" in table.out
    plain = json.loads(run_cli(*base, "report", "sources", "--format", "json").out)
    assert all(x["segment"] is None for x in plain["rows"])  # the same keys without --by
    assert run_cli(*base, "report", "sources", "--by", "week").code == 2


def test_report_funnel_by_segment_gives_one_funnel_per_segment(seeded, run_cli, tmp_path):
    base, *_ = seeded
    r = run_cli(*base, "report", "funnel", "--by", "segment", "--format", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    first = {x["segment"]: x["reached"] for x in data["rows"] if x["stage"] == "new"}
    assert first == {"enterprise": 2, "Quiet": 1, None: 1}
    assert all(x["cohort"] is None for x in data["rows"])
    assert data["totals"]["leads"] == 3  # each lead once, though old@ is in two segments
    table = run_cli(*base, "report", "funnel", "--by", "segment", env={"LEADCTL_WIDTH": "160"})
    assert table.code == 0, table.err
    assert "Segment" in table.out and "(no segment)" in table.out and "enterprise" in table.out
    assert "by segment: a lead in several segments counts in each" in table.out
    pictures = run_cli(*base, "report", "funnel", "--by", "segment", "--svg", tmp_path / "f.svg")
    assert pictures.code == 0, pictures.err
    assert "<svg" in (tmp_path / "f.svg").read_text(encoding="utf-8")


def test_forget_a_segment_erases_only_its_leads(seeded, store, run_cli):
    base, big, small, old = seeded
    r = run_cli(*base, "leads", "forget", "--segment", "quiet", "--dry-run")
    assert r.code == 0, r.err
    assert "would erase the personal data of 1 leads in segment Quiet" in r.err
    r = run_cli(*base, "leads", "forget", "--segment", "enterprise", "--inactive-since", "30d", "-y")
    assert r.code == 0, r.err
    with store.connect() as conn:
        erased = {lid for (lid,) in conn.execute(select(LEADS.c.id).where(LEADS.c.erased_at.is_not(None)))}
    assert erased == {old}   # the big lead created today is in the segment but not quiet for 30 days
    r = run_cli(*base, "leads", "forget", "--segment", "nope", "-y")
    assert r.code == 2 and "nope" in r.err
