import datetime as dt
import zoneinfo

import pytest

from digests.scraping.dates import parse_deadline

UTC = dt.UTC
ROME = zoneinfo.ZoneInfo("Europe/Rome")


@pytest.mark.parametrize(
    "text",
    [
        "2027-03-01",
        "1 March 2027",
        "March 1st, 2027",
        "Deadline: 01 Mar 2027",
        "Closes 1 Mar. 2027",
        "03/01/2027",
    ],
)
def test_it_reads_a_date_only_deadline_as_the_end_of_that_day(text):
    assert parse_deadline(text, tz=UTC) == dt.datetime(2027, 3, 1, 23, 59, 59, tzinfo=UTC)


def test_it_ends_a_date_only_deadline_in_the_sources_time_zone():
    assert parse_deadline("2027-03-01", tz=ROME) == dt.datetime(2027, 3, 1, 22, 59, 59, tzinfo=UTC)


def test_it_keeps_the_offset_a_deadline_gives():
    assert parse_deadline("Mon, 01 Mar 2027 17:00:00 +0100", tz=UTC) == dt.datetime(
        2027, 3, 1, 16, 0, tzinfo=UTC
    )


def test_it_reads_a_time_without_offset_in_the_sources_time_zone():
    assert parse_deadline("1 March 2027 5pm", tz=ROME) == dt.datetime(2027, 3, 1, 16, 0, tzinfo=UTC)


def test_it_reads_a_day_first_date_when_the_day_cannot_be_a_month():
    assert parse_deadline("15/03/2027", tz=UTC).date() == dt.date(2027, 3, 15)


@pytest.mark.parametrize("text", ["rolling", "March 2027", "soon!", "2027", "31 February 2027"])
def test_it_gives_none_for_text_without_a_complete_date(text):
    assert parse_deadline(text, tz=UTC) is None


def test_it_gives_none_for_an_absurd_year():
    assert parse_deadline("1 March 1850", tz=UTC) is None


def test_it_reads_an_iso_time_with_z_as_utc():
    assert parse_deadline("2027-03-01T17:00:00Z", tz=ROME) == dt.datetime(
        2027, 3, 1, 17, 0, tzinfo=UTC
    )


def test_it_gives_none_for_an_impossible_iso_date():
    assert parse_deadline("2027-02-30", tz=UTC) is None
