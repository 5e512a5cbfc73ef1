"""A report's title says the window as the user gave it and every filter, segment included."""
from __future__ import annotations

from datetime import datetime

from leadctl.engine.leadquery import LeadFilter
from leadctl.reports.output import title


def test_until_a_date_reads_as_that_day_not_the_next_midnight():
    # --until 2026-10-31 is parsed as the end of that day (2026-11-01 00:00, exclusive)
    flt = LeadFilter(since=datetime(2026, 6, 1), until=datetime(2026, 11, 1))
    assert title("Funnel", flt) == "Funnel — created 2026-06-01 to 2026-10-31"
    assert title("Funnel", LeadFilter(until=datetime(2026, 11, 1, 12, 30))) == \
        "Funnel — created up to 2026-11-01 12:30"


def test_the_segment_is_named_with_the_other_filters():
    flt = LeadFilter(owner="lee")
    flt.segment = "enterprise"
    assert title("Sources", flt) == "Sources — all time · owner=lee, segment=enterprise"
