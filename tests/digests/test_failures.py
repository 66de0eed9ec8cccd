"""A broken source fails alone, with a clear error, and nothing stored is lost."""

import datetime as dt

import pytest
import time_machine

from digests.models import Opportunity, OpportunitySource
from digests.services.scrape import opportunities_scrape

from .conftest import NOW

pytestmark = pytest.mark.django_db

RSS = "application/rss+xml"


def scrape(*sources, at=NOW):
    with time_machine.travel(at, tick=False):
        return opportunities_scrape(sources=list(sources))


@pytest.fixture
def stored(demo_sources):
    """The RSS demo source, scraped once: ten opportunities to keep safe."""
    scrape(demo_sources["rss"])
    return demo_sources["rss"]


def fail_with(feed_server, stored, **route):
    """Serve `route` where the stored source's feed was, scrape again a day later."""
    path = "/demo/artcalls.rss"
    if route:
        feed_server.serve(path, **route)
    else:
        feed_server.routes.pop(path)
    before = list(Opportunity.objects.order_by("pk").values())
    summary = scrape(stored, at=NOW + dt.timedelta(days=1))
    assert list(Opportunity.objects.order_by("pk").values()) == before
    stored.refresh_from_db()
    return summary.results[0], stored


@pytest.mark.parametrize(
    ("route", "error"),
    [
        ({}, "HTTP 404 Not Found"),
        ({"body": "oops", "status": 500}, "HTTP 500 Internal Server Error"),
        ({"body": (b"x" * 300_000), "omit_length": True}, "over the 200000 byte limit"),
        (
            {"body": b"x" * 10, "headers": {"Content-Length": "900000"}, "conditional": False},
            "response is 900000 bytes, over the 200000 limit",
        ),
        ({"body": "<rss><channel><item><title>Half", "content_type": RSS}, "not a valid RSS"),
        (
            {"body": "<html><body><h1>Gallery</h1></body></html>", "content_type": "text/html"},
            "not a",
        ),
        ({"body": '{"version": "1"}', "content_type": "application/json"}, "not a"),
    ],
    ids=["404", "500", "oversized", "declared-oversized", "invalid-xml", "html", "json"],
)
def test_a_failed_fetch_or_parse_is_recorded_and_keeps_what_was_stored(
    feed_server, stored, route, error
):
    result, source = fail_with(feed_server, stored, **route)
    assert result.status == "failed"
    assert error in result.error
    assert source.consecutive_failures == 1
    assert error in source.last_error
    assert source.last_success_at == NOW
    assert Opportunity.objects.count() == 10


def test_it_gives_up_on_a_redirect_loop(feed_server, stored):
    feed_server.serve("/loop", b"", status=302, headers={"Location": "/loop"}, conditional=False)
    result, source = fail_with(
        feed_server, stored, body=b"", status=302, headers={"Location": "/loop"}
    )
    assert "more than 3 redirects" in source.last_error


def test_it_times_out_on_a_server_that_does_not_answer(feed_server, stored, settings):
    settings.SCRAPE_TIMEOUT_SECONDS = 0.3
    result, source = fail_with(feed_server, stored, body=b"late", stall=5)
    assert "timed out after 0.3s" in source.last_error


def test_it_reports_a_host_that_refuses_connections(make_source):
    source = make_source("Closed port", "http://127.0.0.1:9/feed.xml")
    (result,) = scrape(source).results
    assert result.status == "failed"
    assert result.error.startswith("could not connect")


def test_it_fails_an_html_source_whose_page_lacks_the_item_elements(feed_server, make_source):
    url = feed_server.serve_fixture("not_a_feed.html", "text/html")
    source = make_source(
        "Redesigned",
        url,
        OpportunitySource.Kind.HTML,
        config={"item": "article.call", "title": "h2", "link": "a"},
    )
    (result,) = scrape(source).results
    assert result.error == "no element matches the item selector 'article.call'"


def test_it_fails_a_truncated_feed_file(feed_server, make_source):
    source = make_source("Truncated", feed_server.serve_fixture("truncated.rss"))
    (result,) = scrape(source).results
    assert result.status == "failed"
    assert result.error.startswith("not a valid RSS/Atom feed")


def test_one_broken_source_does_not_stop_the_others(feed_server, demo_sources):
    feed_server.serve("/demo/artcalls.rss", b"boom", status=500)
    summary = scrape(*demo_sources.values())
    statuses = {result.name: result.status for result in summary.results}
    assert statuses == {"ArtCalls": "failed", "Residency Atlas": "ok", "Grants": "ok", "WAAN": "ok"}
    assert Opportunity.objects.count() == 8 + 9 + 8


def test_failures_count_up_and_a_success_resets_them(feed_server, stored):
    good = feed_server.routes["/demo/artcalls.rss"]
    feed_server.serve("/demo/artcalls.rss", b"down", status=503)
    for day in (1, 2):
        scrape(stored, at=NOW + dt.timedelta(days=day))
    stored.refresh_from_db()
    assert stored.consecutive_failures == 2
    feed_server.routes["/demo/artcalls.rss"] = good
    scrape(stored, at=NOW + dt.timedelta(days=3))
    stored.refresh_from_db()
    assert (stored.consecutive_failures, stored.last_error) == (0, "")


def test_it_stores_hostile_items_as_plain_text_and_skips_unusable_ones(feed_server, make_source):
    source = make_source("Hostile", feed_server.serve_fixture("hostile.rss", RSS))
    (result,) = scrape(source).results
    assert (result.status, result.created, result.duplicates, result.skipped) == ("ok", 3, 1, 2)
    prize = Opportunity.objects.get(url="https://hostile.example/prize")
    assert prize.title == "Night Sculpture Prize"
    assert prize.description == "A prize for night sculpture."
    assert prize.deadline == dt.datetime(2027, 3, 3, 23, 59, 59, tzinfo=dt.UTC)
    assert Opportunity.objects.get(url="https://hostile.example/residency").deadline is None
    assert Opportunity.objects.get(url="https://hostile.example/grant").deadline == dt.datetime(
        2027, 4, 15, 23, 59, tzinfo=dt.UTC
    )
