"""Each source kind, end to end: local HTTP server -> fetch -> parse -> stored opportunities."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from digests.models import Opportunity, OpportunitySource
from digests.services.scrape import opportunities_scrape

from .conftest import NOW

pytestmark = pytest.mark.django_db


def scrape(*sources):
    with time_machine.travel(NOW, tick=False):
        return opportunities_scrape(sources=list(sources))


def test_it_stores_every_item_of_an_rss_feed(demo_sources):
    summary = scrape(demo_sources["rss"])
    assert summary.as_counts()["created"] == 10
    biennale = Opportunity.objects.get(title__startswith="Open Call: Riverside Biennale")
    assert biennale.url == "https://artcalls.example/calls/riverside-biennale-2027"
    assert biennale.organisation == "Riverside Biennale Foundation"
    assert biennale.kind == Opportunity.Kind.OPEN_CALL
    assert biennale.mediums == ["drawing", "painting"]
    assert biennale.tags == ["biennale"]
    assert (biennale.city, biennale.country) == ("Ghent", "BE")
    assert (biennale.fee_amount, biennale.fee_currency) == (Decimal("20.00"), "EUR")
    # A date-only deadline ends that day in the source's time zone (UTC here).
    assert biennale.deadline == dt.datetime(2027, 1, 2, 23, 59, 59, tzinfo=dt.UTC)
    assert biennale.description.startswith("The Riverside Biennale invites painters")
    assert "<" not in biennale.description
    assert biennale.source == demo_sources["rss"]


def test_it_reads_deadlines_from_an_atom_feed_and_its_text(demo_sources):
    scrape(demo_sources["atom"])
    assert Opportunity.objects.count() == 8
    lago = Opportunity.objects.get(title="Studio Residency at Fondazione Lago")
    # Relative links resolve against the feed's URL.
    assert lago.url.endswith("/residencies/fondazione-lago")
    assert lago.organisation == "Fondazione Lago"
    assert lago.kind == Opportunity.Kind.RESIDENCY
    shigaraki = Opportunity.objects.get(title="Ceramics Residency in Shigaraki")
    # "Deadline: 10 January 2027" in the summary, no structured deadline.
    assert shigaraki.deadline.date() == dt.date(2027, 1, 10)
    assert shigaraki.country == "JP"
    assert shigaraki.fee_currency == "JPY"


def test_it_stores_a_json_feed_with_the_proletto_extension(demo_sources):
    scrape(demo_sources["json_feed"])
    assert Opportunity.objects.count() == 9
    fellowship = Opportunity.objects.get(title="Fellowship for Women Sculptors")
    assert fellowship.url == ("https://grantsforartists.example/grants/women-sculptors-fellowship")
    assert fellowship.kind == Opportunity.Kind.FELLOWSHIP
    assert fellowship.is_remote is True
    assert fellowship.is_free
    assert fellowship.mediums == ["sculpture"]
    assert fellowship.tags == ["women artists"]
    assert "<strong>" not in fellowship.description
    fund = Opportunity.objects.get(title="Emerging Painters Fund")
    assert fund.organisation == "The Hallworth Foundation"


def test_it_stores_an_html_listing_through_css_selectors(demo_sources):
    scrape(demo_sources["html"])
    assert Opportunity.objects.count() == 8
    park = Opportunity.objects.get(title="Accra Sculpture Park: artists wanted")
    assert park.url == demo_sources["html"].url.rsplit("/demo/", 1)[0] + (
        "/opportunities/accra-sculpture-park"
    )
    assert park.mediums == ["installation", "sculpture"]
    assert park.tags == ["ecology", "public space"]
    assert park.kind == Opportunity.Kind.COMMISSION
    assert (park.city, park.country) == ("Accra", "GH")
    # <time datetime="2027-01-04">: end of that day in Accra (UTC+0).
    assert park.deadline == dt.datetime(2027, 1, 4, 23, 59, 59, tzinfo=dt.UTC)
    dakar = Opportunity.objects.get(title="Dak'Art OFF programme")
    assert "utm_source" not in dakar.url


def test_it_reads_a_json_api_list_through_its_field_mapping(feed_server, make_source):
    url = feed_server.serve(
        "/api/calls",
        """{"data": {"results": [
            {"name": "Glass Prize", "links": {"web": "https://glass.example/prize?utm_x=1"},
             "closes_on": "2027-02-01T12:00:00+01:00", "org": {"name": "Glass Guild"},
             "disciplines": ["glass", "Sculpture"], "type": "award", "city": "Venezia, Italy",
             "fee": 0},
            {"name": "No link here"}
        ]}}""",
        "application/json",
    )
    source = make_source(
        "Glass API",
        url,
        OpportunitySource.Kind.JSON_API,
        config={
            "items": "data.results",
            "fields": {
                "title": "name",
                "link": "links.web",
                "deadline": "closes_on",
                "organisation": "org.name",
                "mediums": "disciplines",
                "kind": "type",
                "location": "city",
                "fee": "fee",
            },
        },
    )
    summary = scrape(source)
    prize = Opportunity.objects.get()
    assert prize.url == "https://glass.example/prize"
    assert prize.deadline == dt.datetime(2027, 2, 1, 11, 0, tzinfo=dt.UTC)
    assert prize.organisation == "Glass Guild"
    assert prize.mediums == ["sculpture"] and prize.tags == ["glass"]
    assert prize.kind == Opportunity.Kind.COMPETITION
    assert prize.is_free
    assert summary.results[0].skipped == 1


def test_it_sends_a_clear_user_agent(demo_sources, feed_server):
    scrape(demo_sources["rss"])
    (headers,) = feed_server.requests_to("/demo/artcalls.rss")
    assert headers["User-Agent"] == "Proletto/1.0 (+https://proletto.test)"


def test_it_records_health_on_success(demo_sources):
    scrape(demo_sources["rss"])
    source = OpportunitySource.objects.get(pk=demo_sources["rss"].pk)
    assert source.last_success_at == NOW
    assert source.consecutive_failures == 0
    assert source.last_item_count == 10
    assert source.etag and source.last_modified
    assert source.next_fetch_at == NOW + dt.timedelta(hours=6)
