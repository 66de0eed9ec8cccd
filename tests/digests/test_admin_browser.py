"""The sources admin in a real browser: health at a glance, and "scrape now"."""

import pytest

from digests.models import Opportunity, OpportunitySource
from digests.services.scrape import opportunities_scrape

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_sees_a_failing_source_and_scrapes_the_sources_now(
    page, live_server, admin_login, screenshot, feed_server, demo_sources
):
    feed_server.serve("/demo/grants.json", b"down for maintenance", status=503)
    admin_login()
    page.goto(f"{live_server.url}/admin/digests/opportunitysource/")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "scrape_now")
    page.click("button[name=index]")
    messages = page.locator("ul.messagelist").inner_text()
    assert "Scraped 4 sources: 26 new" in messages
    assert "Grants: HTTP 503 Service Unavailable" in messages
    row = page.locator("#result_list tr", has_text="Grants")
    assert "failing (1)" in row.inner_text()
    screenshot()
    assert Opportunity.objects.count() == 26
    assert OpportunitySource.objects.get(name="Grants").consecutive_failures == 1


def test_an_admin_filters_opportunities_by_medium_and_sees_escaped_titles(
    page, live_server, admin_login, screenshot, feed_server, make_source
):
    feed_server.serve_fixture("hostile.rss", "application/rss+xml")
    source = make_source("Hostile", feed_server.url("/fixtures/hostile.rss"))
    opportunities_scrape(sources=[source])
    Opportunity.objects.filter(title="Grant in US format").update(mediums=["ceramics"])
    admin_login()
    page.goto(f"{live_server.url}/admin/digests/opportunity/?medium=ceramics")
    titles = page.locator("#result_list th.field-title").all_inner_texts()
    assert titles == ["Grant in US format"]
    page.goto(f"{live_server.url}/admin/digests/opportunity/?q=night")
    assert page.locator("#result_list th.field-title").all_inner_texts() == [
        "Night Sculpture Prize"
    ]
    # No script from the feed ran: the page has no dialog and the title is plain text.
    assert page.evaluate("document.querySelectorAll('#result_list script').length") == 0
    screenshot()
