"""Upsert by canonical URL: re-runs add nothing, changes update in place, no needless writes."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from digests.models import Opportunity
from digests.services.scrape import opportunities_scrape

from .conftest import NOW, TODAY

pytestmark = pytest.mark.django_db

RSS = "application/rss+xml"


def scrape(*sources, at=NOW):
    with time_machine.travel(at, tick=False):
        return opportunities_scrape(sources=list(sources))


def opportunity_writes(queries) -> list[str]:
    """Statements writing opportunities, apart from the set-based sweeps that change no row
    when nothing is due: expiry, and the daily last_seen_at refresh of a "not modified"
    source (both are indexed reads in effect)."""
    table = f'"{Opportunity._meta.db_table}"'
    return [
        q["sql"]
        for q in queries
        if q["sql"].split()[0].upper() in ("INSERT", "UPDATE", "DELETE")
        and q["sql"].split()[1 if q["sql"].upper().startswith("UPDATE") else 2] == table
        and "SET \"status\" = 'expired'" not in q["sql"]
        and '"last_seen_at" <' not in q["sql"]
    ]


def test_a_second_run_adds_nothing(demo_sources):
    scrape(*demo_sources.values())
    rows = list(Opportunity.objects.order_by("pk").values())
    summary = scrape(*demo_sources.values(), at=NOW + dt.timedelta(hours=7))
    assert summary.as_counts()["created"] == 0
    assert list(Opportunity.objects.order_by("pk").values()) == rows


def test_an_unchanged_source_served_again_costs_no_opportunity_writes(feed_server, demo_sources):
    source = demo_sources["json_feed"]
    with CaptureQueriesContext(connection) as first_run:
        scrape(source)
    assert opportunity_writes(first_run.captured_queries)  # the counter does see writes
    # No ETag this time, and a body that differs in bytes but not in items: it is
    # parsed in full, and every item found unchanged.
    route = feed_server.routes["/demo/grants.json"]
    route.conditional = False
    route.body = route.body.replace(b'"title": "Grants for Artists"', b'"title": "Grants!"')
    with CaptureQueriesContext(connection) as queries:
        (result,) = scrape(source, at=NOW + dt.timedelta(hours=7)).results
    assert (result.status, result.unchanged, result.updated) == ("ok", 9, 0)
    assert opportunity_writes(queries.captured_queries) == []


def test_it_asks_with_the_stored_etag_and_writes_nothing_on_304(feed_server, demo_sources):
    source = demo_sources["rss"]
    scrape(source)
    source.refresh_from_db()
    with CaptureQueriesContext(connection) as queries:
        (result,) = scrape(source, at=NOW + dt.timedelta(hours=7)).results
    first, second = feed_server.requests_to("/demo/artcalls.rss")
    assert "If-None-Match" not in first
    assert second["If-None-Match"] == source.etag
    assert second["If-Modified-Since"] == "Mon, 23 Nov 2026 09:00:00 GMT"
    assert result.status == "not_modified"
    assert opportunity_writes(queries.captured_queries) == []
    source.refresh_from_db()
    assert source.last_success_at == NOW + dt.timedelta(hours=7)


def test_a_changed_item_is_updated_in_place(feed_server, demo_sources):
    source = demo_sources["rss"]
    scrape(source)
    first = Opportunity.objects.get(url__endswith="/harbour-light-prize")
    body = feed_server.routes["/demo/artcalls.rss"].body.replace(
        b"Harbour Light Photography Prize", b"Harbour Light Photography Prize 2027"
    )
    feed_server.serve("/demo/artcalls.rss", body, RSS)
    later = NOW + dt.timedelta(hours=7)
    (result,) = scrape(source, at=later).results
    assert (result.created, result.updated, result.unchanged) == (0, 1, 9)
    updated = Opportunity.objects.get(pk=first.pk)
    assert updated.title == "Harbour Light Photography Prize 2027"
    assert (updated.first_seen_at, updated.last_seen_at) == (NOW, later)


def test_tracking_parameters_do_not_make_a_second_opportunity(feed_server, make_source):
    item = "<item><title>Grant</title><link>https://g.example/a?{}</link></item>"
    feed = '<rss version="2.0"><channel><title>G</title>{}</channel></rss>'
    url = feed_server.serve("/g", feed.format(item.format("utm_source=a")), RSS)
    source = make_source("G", url)
    scrape(source)
    feed_server.serve("/g", feed.format(item.format("utm_source=b&amp;fbclid=c")), RSS)
    scrape(source, at=NOW + dt.timedelta(hours=7))
    assert list(Opportunity.objects.values_list("url", flat=True)) == ["https://g.example/a"]


def test_an_opportunity_listed_by_another_source_stays_with_it(feed_server, make_source):
    item = '<rss version="2.0"><channel><title>G</title><item><title>{}</title>'
    item += "<link>https://same.example/call</link></item></channel></rss>"
    first = make_source("First", feed_server.serve("/first", item.format("From first"), RSS))
    second = make_source("Second", feed_server.serve("/second", item.format("From second"), RSS))
    scrape(first)
    scrape(second)
    opportunity = Opportunity.objects.get()
    assert (opportunity.title, opportunity.source) == ("From first", first)


def test_last_seen_is_refreshed_at_most_daily_for_unchanged_items(feed_server, demo_sources):
    source = demo_sources["json_feed"]
    feed_server.routes["/demo/grants.json"].conditional = False
    scrape(source)
    scrape(source, at=NOW + dt.timedelta(hours=7))
    assert set(Opportunity.objects.values_list("last_seen_at", flat=True)) == {NOW}
    scrape(source, at=NOW + dt.timedelta(days=2))
    assert set(Opportunity.objects.values_list("last_seen_at", flat=True)) == {
        NOW + dt.timedelta(days=2)
    }


def test_a_dry_run_writes_nothing(demo_sources):
    with time_machine.travel(NOW, tick=False):
        summary = opportunities_scrape(sources=list(demo_sources.values()), dry_run=True)
    assert summary.as_counts()["created"] == 35
    assert Opportunity.objects.count() == 0
    source = demo_sources["rss"]
    source.refresh_from_db()
    assert (source.last_fetched_at, source.etag, source.next_fetch_at) == (None, "", None)


def test_the_demo_dates_are_relative_to_the_day_served(feed_server, demo_sources):
    scrape(demo_sources["json_feed"])
    fund = Opportunity.objects.get(title="Emerging Painters Fund")
    assert fund.deadline.date() == TODAY + dt.timedelta(days=30)


def test_every_stored_opportunity_passes_model_validation(feed_server, demo_sources, make_source):
    hostile = make_source("Hostile", feed_server.serve_fixture("hostile.rss", RSS))
    scrape(*demo_sources.values(), hostile)
    assert Opportunity.objects.count() == 38
    for opportunity in Opportunity.objects.all():
        opportunity.full_clean()


def test_the_same_bytes_again_are_not_modified_even_without_an_etag(feed_server, demo_sources):
    source = demo_sources["html"]
    feed_server.routes["/demo/listing.html"].conditional = False
    scrape(source)
    with CaptureQueriesContext(connection) as queries:
        (result,) = scrape(source, at=NOW + dt.timedelta(hours=7)).results
    assert (result.status, result.unchanged) == ("not_modified", 0)
    assert opportunity_writes(queries.captured_queries) == []


def test_a_not_modified_source_refreshes_last_seen_only_for_what_it_still_lists(
    feed_server, demo_sources
):
    source = demo_sources["rss"]
    scrape(source)
    gone = Opportunity.objects.create(
        title="Dropped long ago",
        url="https://artcalls.example/old",
        content_hash="x",
        source=source,
        first_seen_at=NOW - dt.timedelta(days=30),
        last_seen_at=NOW - dt.timedelta(days=30),
    )
    later = NOW + dt.timedelta(days=2)
    (result,) = scrape(source, at=later).results
    assert result.status == "not_modified"
    assert set(Opportunity.objects.exclude(pk=gone.pk).values_list("last_seen_at", flat=True)) == {
        later
    }
    gone.refresh_from_db()
    assert gone.last_seen_at == NOW - dt.timedelta(days=30)
