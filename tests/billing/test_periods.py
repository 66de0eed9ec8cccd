import datetime as dt

import pytest

from billing import periods
from tests.billing.conftest import utc


def starts(anchor, count):
    return [periods.add_months(anchor, n) for n in range(count)]


def test_it_clamps_an_anchor_on_the_31st_to_the_end_of_shorter_months():
    anchor = utc(2027, 1, 31, 9)
    assert [d.date() for d in starts(anchor, 5)] == [
        dt.date(2027, 1, 31),
        dt.date(2027, 2, 28),
        dt.date(2027, 3, 31),
        dt.date(2027, 4, 30),
        dt.date(2027, 5, 31),
    ]


def test_it_resets_on_feb_29_in_a_leap_year():
    assert periods.add_months(utc(2027, 12, 31), 2) == utc(2028, 2, 29)


def test_an_anchor_on_feb_29_resets_on_the_29th_after_february_and_the_28th_next_year():
    anchor = utc(2028, 2, 29, 12)
    assert periods.add_months(anchor, 1) == utc(2028, 3, 29, 12)
    assert periods.add_months(anchor, 12) == utc(2029, 2, 28, 12)
    assert periods.add_months(anchor, 48) == utc(2032, 2, 29, 12)


def test_it_counts_from_the_anchor_so_a_short_month_does_not_drift_later_resets():
    anchor = utc(2027, 1, 31)
    chained = periods.add_months(periods.add_months(anchor, 1), 1)
    assert chained == utc(2027, 3, 28)
    assert periods.add_months(anchor, 2) == utc(2027, 3, 31)


def test_period_start_is_the_latest_anchor_month_not_after_the_moment():
    anchor = utc(2027, 1, 31, 9)
    assert periods.period_start(anchor, utc(2027, 2, 28, 8, 59)) == utc(2027, 1, 31, 9)
    assert periods.period_start(anchor, utc(2027, 2, 28, 9)) == utc(2027, 2, 28, 9)
    assert periods.period_start(anchor, utc(2027, 3, 30)) == utc(2027, 2, 28, 9)
    assert periods.next_period_start(anchor, utc(2027, 3, 30)) == utc(2027, 3, 31, 9)


def test_before_the_anchor_the_first_period_is_the_anchor():
    anchor = utc(2027, 5, 10)
    assert periods.period_index(anchor, utc(2027, 4, 1)) == 0
    assert periods.next_period_start(anchor, utc(2027, 4, 1)) == anchor


@pytest.mark.parametrize("months", range(0, 40))
def test_every_moment_falls_in_exactly_the_period_it_computes(months):
    anchor = utc(2027, 1, 31, 9)
    start = periods.add_months(anchor, months)
    assert periods.period_index(anchor, start) == months
    assert periods.period_index(anchor, start - dt.timedelta(seconds=1)) == max(months - 1, 0)


def test_it_keeps_local_wall_time_across_daylight_saving_in_the_time_zone(settings):
    settings.TIME_ZONE = "Europe/Rome"
    # Midnight of Jan 31 in Rome (CET, UTC+1) is 23:00 UTC the day before.
    anchor = utc(2027, 1, 30, 23)
    assert periods.add_months(anchor, 1) == utc(2027, 2, 27, 23)  # Feb 28 00:00 CET
    assert periods.add_months(anchor, 2) == utc(2027, 3, 30, 22)  # Mar 31 00:00 CEST
    assert periods.add_months(anchor, 3) == utc(2027, 4, 29, 22)  # Apr 30 00:00 CEST


def test_the_month_is_counted_in_the_time_zone_not_in_utc(settings):
    settings.TIME_ZONE = "America/Los_Angeles"
    # Jan 31 20:00 in Los Angeles is already Feb 1 in UTC: in UTC it would reset on the 1st.
    anchor = utc(2027, 2, 1, 4)
    assert periods.add_months(anchor, 1) == utc(2027, 3, 1, 4)  # Feb 28 20:00 PST
    assert periods.add_months(anchor, 2) == utc(2027, 4, 1, 3)  # Mar 31 20:00 PDT
