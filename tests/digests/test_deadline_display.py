"""A date-only deadline is the organiser's date for every reader (issue 15: Auckland was told
31 December for a call closing on 30 December in New York)."""

import datetime as dt
import zoneinfo

import pytest

from digests.models import Opportunity
from digests.scraping.normalise import RawItem, normalise_item
from digests.services.digest import digest_send_test
from tests.digests.digest_data import NOW, artist

pytestmark = pytest.mark.django_db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def scraped(deadline: str, *, tz=NEW_YORK, title="Winter open call") -> Opportunity:
    raw = RawItem(
        title=title, link="/" + title.replace(" ", "-"), deadline=deadline, categories=["painting"]
    )
    fields = normalise_item(raw, base_url="https://calls.example/", tz=tz)
    return Opportunity.objects.create(first_seen_at=NOW, last_seen_at=NOW, **fields)


@pytest.mark.parametrize("reader_zone", ["Pacific/Auckland", "Pacific/Honolulu"])
def test_a_digest_shows_the_organisers_date_in_html_and_text(reader_zone):
    scraped("30 December 2026")
    user = artist(timezone=reader_zone)
    email = digest_send_test(user=user, now=NOW).outbox
    label = "30 December 2026 (closes end of day, America/New York)"
    assert label in email.body_text
    assert label in email.body_html
    assert "31 December" not in email.body_text + email.body_html
    assert "29 December" not in email.body_text + email.body_html


def test_a_reader_in_the_organisers_zone_gets_the_date_alone():
    scraped("30 December 2026")
    email = digest_send_test(user=artist(timezone="America/New_York"), now=NOW).outbox
    assert "Deadline: 30 December 2026 ·" in email.body_text


def test_a_deadline_with_a_time_is_shown_in_the_readers_zone_with_the_zone_named():
    scraped("2026-12-30T17:00:00-05:00")
    email = digest_send_test(user=artist(timezone="Pacific/Auckland"), now=NOW).outbox
    assert "31 December 2026, 11:00 (Pacific/Auckland time)" in email.body_text


def test_the_public_list_and_page_show_the_organisers_date(client):
    opportunity = scraped("30 December 2026")
    listing = client.get("/opportunities/").content.decode()
    page = client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    for html in (listing, page):
        assert "30 December 2026 (closes end of day, America/New York)" in html


def test_a_signed_in_reader_sees_a_timed_deadline_in_their_own_zone(client):
    opportunity = scraped("2026-12-30T17:00:00-05:00")
    client.force_login(artist(timezone="Pacific/Honolulu"))
    page = client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    assert "30 December 2026, 12:00 (Pacific/Honolulu time)" in page


def test_the_admin_list_shows_the_organisers_date(admin_client):
    scraped("30 December 2026")
    html = admin_client.get("/admin/digests/opportunity/").content.decode()
    assert "30 December 2026 (closes end of day, America/New York)" in html


def test_ranking_counts_days_left_from_the_instant():
    # Closes 2.5 days from now: too late to apply (MIN_DAYS_LEFT is 3), whatever its UTC date.
    from digests.selectors import catalogue_items

    scraped((NOW + dt.timedelta(days=2, hours=12)).isoformat())
    (item,) = catalogue_items(now=NOW)
    assert (item.deadline - NOW.date()).days == 2


def test_editing_the_day_in_the_admin_moves_the_instant_with_it():
    opportunity = scraped("30 December 2026")
    opportunity.deadline_date = dt.date(2027, 1, 5)
    opportunity.full_clean()
    assert opportunity.deadline == dt.datetime(2027, 1, 5, 23, 59, 59, tzinfo=NEW_YORK)
