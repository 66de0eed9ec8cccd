import datetime as dt

from digests.weeks import due_week, due_zones_by_week, week_of

UTC = dt.UTC


def at(*args):
    return dt.datetime(*args, tzinfo=UTC)


def test_week_of_is_the_monday_of_that_week():
    assert week_of(dt.date(2026, 11, 25)) == dt.date(2026, 11, 23)  # a Wednesday
    assert week_of(dt.date(2026, 11, 23)) == dt.date(2026, 11, 23)  # the Monday itself
    assert week_of(dt.date(2026, 11, 29)) == dt.date(2026, 11, 23)  # the Sunday after


def test_it_is_not_due_before_monday_eight_local():
    # 06:59 UTC on Monday = 07:59 in Rome (CET, UTC+1)
    assert due_week("Europe/Rome", at(2026, 11, 23, 6, 59)) is None


def test_it_is_due_from_monday_eight_local():
    assert due_week("Europe/Rome", at(2026, 11, 23, 7, 0)) == dt.date(2026, 11, 23)


def test_it_stays_due_for_the_rest_of_the_week():
    assert due_week("Europe/Rome", at(2026, 11, 28, 22, 0)) == dt.date(2026, 11, 23)


def test_auckland_is_due_while_it_is_still_sunday_in_utc():
    # Sunday 19:00 UTC = Monday 08:00 in Auckland (NZDT, UTC+13)
    assert due_week("Pacific/Auckland", at(2026, 11, 22, 19, 0)) == dt.date(2026, 11, 23)


def test_honolulu_is_due_on_monday_evening_utc():
    # Monday 18:00 UTC = Monday 08:00 in Honolulu (UTC-10)
    assert due_week("Pacific/Honolulu", at(2026, 11, 23, 17, 59)) is None
    assert due_week("Pacific/Honolulu", at(2026, 11, 23, 18, 0)) == dt.date(2026, 11, 23)


def test_two_weeks_can_be_due_at_once_across_the_date_line():
    weeks = due_zones_by_week(
        ["Pacific/Auckland", "America/Los_Angeles", "Europe/Rome"], at(2026, 11, 22, 20, 0)
    )
    assert weeks == {
        dt.date(2026, 11, 23): ["Pacific/Auckland"],
        dt.date(2026, 11, 16): ["America/Los_Angeles", "Europe/Rome"],
    }


def test_send_time_follows_summer_time_in_new_york():
    # 2026-03-09 is the Monday after DST starts (EDT, UTC-4): 08:00 local = 12:00 UTC
    assert due_week("America/New_York", at(2026, 3, 9, 11, 59)) is None
    assert due_week("America/New_York", at(2026, 3, 9, 12, 0)) == dt.date(2026, 3, 9)
    # a week earlier, still EST (UTC-5): 08:00 local = 13:00 UTC
    assert due_week("America/New_York", at(2026, 3, 2, 12, 59)) is None
    assert due_week("America/New_York", at(2026, 3, 2, 13, 0)) == dt.date(2026, 3, 2)


def test_send_time_follows_the_end_of_summer_time_in_london():
    # 2026-10-26 is the Monday after BST ends: 08:00 local = 08:00 UTC
    assert due_week("Europe/London", at(2026, 10, 26, 7, 59)) is None
    assert due_week("Europe/London", at(2026, 10, 26, 8, 0)) == dt.date(2026, 10, 26)
