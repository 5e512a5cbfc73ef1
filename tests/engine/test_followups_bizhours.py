"""Business-hours arithmetic: weekends, evenings, DST changes, owners in different zones."""
from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from leadctl.clock import to_local, to_utc
from leadctl.engine.bizhours import BusinessCalendar, Calendars
from leadctl.rules.schema import BusinessHours

HOURS = BusinessHours()  # mon-fri 09:00-17:00


def local(cal, y, mo, d, h, mi):
    return to_utc(datetime(y, mo, d, h, mi), cal.tz)


def as_local(cal, utc):
    return to_local(utc, cal.tz)


def test_friday_evening_step_lands_monday_morning_berlin():
    cal = BusinessCalendar(HOURS, "Europe/Berlin")
    start = local(cal, 2026, 11, 20, 16, 55)          # Friday 16:55 Berlin
    due = cal.add(start, timedelta(minutes=15))
    assert as_local(cal, due) == datetime(2026, 11, 23, 9, 10)
    assert cal.local_text(due) == "2026-11-23 09:10 Europe/Berlin"
    assert due == datetime(2026, 11, 23, 8, 10)        # stored as naive UTC


@pytest.mark.parametrize("start, after, expected", [
    ((2026, 11, 18, 10, 0), timedelta(minutes=15), (2026, 11, 18, 10, 15)),   # inside hours
    ((2026, 11, 18, 16, 0), timedelta(hours=4), (2026, 11, 19, 12, 0)),       # evening carry-over
    ((2026, 11, 18, 16, 0), timedelta(hours=1), (2026, 11, 18, 17, 0)),       # up to the end of the day
    ((2026, 11, 21, 11, 0), timedelta(minutes=15), (2026, 11, 23, 9, 15)),    # Saturday
    ((2026, 11, 18, 6, 0), timedelta(minutes=30), (2026, 11, 18, 9, 30)),     # early morning
    ((2026, 11, 18, 20, 0), timedelta(minutes=30), (2026, 11, 19, 9, 30)),    # late evening
    ((2026, 11, 19, 10, 0), timedelta(days=1), (2026, 11, 20, 10, 0)),        # Thu + 1d = Fri same time
    ((2026, 11, 20, 10, 0), timedelta(days=1), (2026, 11, 23, 9, 0)),         # Fri + 1d = Sat -> Mon 09:00
    ((2026, 11, 20, 10, 0), timedelta(days=3), (2026, 11, 23, 10, 0)),        # Fri + 3d = Mon same time
    ((2026, 11, 18, 10, 0), timedelta(weeks=1), (2026, 11, 25, 10, 0)),
    ((2026, 11, 19, 16, 0), timedelta(days=1, hours=2), (2026, 11, 23, 10, 0)),  # Fri 16:00 + 2h working
])
def test_add_in_berlin(start, after, expected):
    cal = BusinessCalendar(HOURS, "Europe/Berlin")
    assert as_local(cal, cal.add(local(cal, *start), after)) == datetime(*expected)


def test_fit_keeps_times_inside_and_moves_others():
    cal = BusinessCalendar(HOURS, "Europe/Berlin")
    inside = local(cal, 2026, 11, 18, 12, 0)
    assert cal.fit(inside) == inside and cal.is_open(inside)
    sunday = local(cal, 2026, 11, 22, 12, 0)
    assert not cal.is_open(sunday)
    assert as_local(cal, cal.fit(sunday)) == datetime(2026, 11, 23, 9, 0)


def test_dst_spring_forward_keeps_local_wall_clock():
    # Europe/Berlin moves from UTC+1 to UTC+2 on Sunday 2026-03-29.
    cal = BusinessCalendar(HOURS, "Europe/Berlin")
    fri = local(cal, 2026, 3, 27, 16, 55)
    due = cal.add(fri, timedelta(minutes=15))
    assert as_local(cal, due) == datetime(2026, 3, 30, 9, 10)
    assert due == datetime(2026, 3, 30, 7, 10)         # now UTC+2
    assert fri == datetime(2026, 3, 27, 15, 55)        # was UTC+1
    # 1d across the change: same local time next business day.
    assert as_local(cal, cal.add(local(cal, 2026, 3, 27, 10, 0), timedelta(days=3))) == datetime(2026, 3, 30, 10, 0)


def test_dst_autumn_back_in_new_york():
    # America/New_York falls back on Sunday 2026-11-01.
    cal = BusinessCalendar(HOURS, "America/New_York")
    fri = local(cal, 2026, 10, 30, 16, 30)
    due = cal.add(fri, timedelta(hours=1))
    assert as_local(cal, due) == datetime(2026, 11, 2, 9, 30)
    assert due == datetime(2026, 11, 2, 14, 30)        # EST, UTC-5
    assert fri == datetime(2026, 10, 30, 20, 30)       # EDT, UTC-4


def test_owners_in_different_zones_get_their_own_hours():
    rules = SimpleNamespace(routing=SimpleNamespace(owners=()))
    cals = Calendars(HOURS, {"dana": "Europe/Berlin", "priya": "America/New_York", "aiko": "Australia/Sydney"})
    now = datetime(2026, 11, 18, 15, 0)                # Wednesday 15:00 UTC
    assert cals.for_owner("dana").fit(now) == now                            # 16:00 Berlin: open
    later = datetime(2026, 11, 18, 16, 30)                                   # 17:30 Berlin: closed
    assert cals.for_owner("dana").fit(later) == datetime(2026, 11, 19, 8, 0)
    assert cals.for_owner("priya").fit(later) == later                       # 11:30 New York: open
    assert cals.for_owner("priya").fit(now) == now                           # 10:00 New York
    # Sydney: 02:00 Thursday -> 09:00 Thursday Sydney = 22:00 Wednesday UTC
    assert cals.for_owner("aiko").fit(now) == datetime(2026, 11, 18, 22, 0)
    # Unknown owners and unassigned tasks use UTC
    assert cals.for_owner(None).tzname == "UTC" and cals.for_owner("nobody").tzname == "UTC"
    assert cals.for_owner("DANA").tzname == "Europe/Berlin"
    assert rules  # (rules not needed when zones are given)


def test_custom_days_and_hours():
    hours = BusinessHours(days=["sat", "sun"], start="10:00", end="14:00")
    cal = BusinessCalendar(hours, "UTC")
    due = cal.add(datetime(2026, 11, 20, 9, 0), timedelta(hours=5))   # Friday -> Sat 10-14 (4h) + Sun 1h
    assert due == datetime(2026, 11, 22, 11, 0)
