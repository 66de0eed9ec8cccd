import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from digests.models import Opportunity, OpportunitySource

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("ops", "ops@proletto.test", "pw-123456789")
    client.force_login(user)
    return client


def make_opportunities(count, source=None, **fields):
    return Opportunity.objects.bulk_create(
        Opportunity(
            title=fields.get("title", f"Call {i}"),
            url=f"https://ex.org/{source.pk if source else 0}/{i}",
            mediums=fields.get("mediums", ["painting"]),
            deadline=NOW + dt.timedelta(days=i + 1),
            content_hash="x",
            first_seen_at=NOW,
            last_seen_at=NOW,
            source=source,
        )
        for i in range(count)
    )


def test_the_opportunity_list_costs_the_same_queries_for_5_or_40_rows(staff_client):
    source = OpportunitySource.objects.create(name="S", url="https://s.example/", kind="feed")
    make_opportunities(5, source)
    with CaptureQueriesContext(connection) as few:
        assert staff_client.get("/admin/digests/opportunity/").status_code == 200
    other = OpportunitySource.objects.create(name="T", url="https://t.example/", kind="feed")
    make_opportunities(35, other)
    with CaptureQueriesContext(connection) as many:
        assert staff_client.get("/admin/digests/opportunity/").status_code == 200
    assert len(many) == len(few)


def test_titles_from_the_web_are_escaped_in_the_admin(staff_client):
    make_opportunities(1, title='<script>alert("x")</script>')
    html = staff_client.get("/admin/digests/opportunity/").content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert" in html


def test_the_medium_filter_keeps_only_that_medium(staff_client):
    make_opportunities(2, mediums=["sculpture"])
    Opportunity.objects.filter(pk=Opportunity.objects.first().pk).update(
        mediums=["painting"], url="https://ex.org/p"
    )
    response = staff_client.get("/admin/digests/opportunity/?medium=sculpture")
    assert response.context["cl"].result_count == 1


def test_search_finds_opportunities_by_organisation(staff_client):
    make_opportunities(3)
    Opportunity.objects.filter(title="Call 1").update(organisation="Fondazione Lago")
    response = staff_client.get("/admin/digests/opportunity/?q=lago")
    assert [o.title for o in response.context["cl"].result_list] == ["Call 1"]


def test_the_source_list_shows_health_and_the_last_error(staff_client):
    OpportunitySource.objects.create(
        name="Broken",
        url="https://b.example/",
        kind="feed",
        consecutive_failures=3,
        last_error="HTTP 500 Internal Server Error",
    )
    html = staff_client.get("/admin/digests/opportunitysource/").content.decode()
    assert "failing (3)" in html
    assert "HTTP 500 Internal Server Error" in html


def test_scrape_now_runs_the_selected_sources_and_reports_counts(staff_client, demo_sources):
    response = staff_client.post(
        "/admin/digests/opportunitysource/",
        {"action": "scrape_now", "_selected_action": [demo_sources["rss"].pk]},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert messages == [
        "Scraped 1 sources: 10 new, 0 updated, 0 unchanged, 0 not modified, 0 failed, "
        "0 busy elsewhere."
    ]
    assert Opportunity.objects.count() == 10


def test_scrape_now_shows_each_failed_sources_error(staff_client, demo_sources, feed_server):
    feed_server.serve("/demo/listing.html", b"gone", status=410)
    response = staff_client.post(
        "/admin/digests/opportunitysource/",
        {"action": "scrape_now", "_selected_action": [demo_sources["html"].pk]},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert "WAAN: HTTP 410 Gone" in messages


def test_scrape_now_refuses_too_many_sources_at_once(staff_client, settings, demo_sources):
    settings.SCRAPE_ADMIN_MAX_SOURCES = 2
    response = staff_client.post(
        "/admin/digests/opportunitysource/",
        {"action": "scrape_now", "_selected_action": [s.pk for s in demo_sources.values()]},
        follow=True,
    )
    (message,) = [str(m) for m in response.context["messages"]]
    assert message.startswith("Select at most 2 sources")
    assert Opportunity.objects.count() == 0


def test_a_bad_css_selector_is_a_form_error(staff_client):
    response = staff_client.post(
        "/admin/digests/opportunitysource/add/",
        {
            "name": "Bad",
            "kind": "html",
            "url": "https://bad.example/",
            "enabled": "on",
            "fetch_interval": "06:00:00",
            "timezone": "UTC",
            "config": '{"item": "article[", "title": "h2", "link": "a"}',
        },
    )
    assert response.status_code == 200
    assert "is not valid CSS" in response.content.decode()
    assert not OpportunitySource.objects.exists()


def test_an_html_source_without_required_selectors_is_a_form_error(staff_client):
    response = staff_client.post(
        "/admin/digests/opportunitysource/add/",
        {
            "name": "Half",
            "kind": "html",
            "url": "https://half.example/",
            "fetch_interval": "06:00:00",
            "timezone": "UTC",
            "config": '{"item": "article"}',
        },
    )
    assert "HTML sources need selectors for title, link" in response.content.decode()
    assert not OpportunitySource.objects.exists()


def test_editing_a_sources_selectors_makes_the_next_fetch_full_and_due(staff_client):
    source = OpportunitySource.objects.create(
        name="Page",
        kind="html",
        url="https://page.example/",
        config={"item": "article", "title": "h2", "link": "a"},
        etag='"abc"',
        body_sha256="f" * 64,
        next_fetch_at=NOW,
    )
    response = staff_client.post(
        f"/admin/digests/opportunitysource/{source.pk}/change/",
        {
            "name": "Page",
            "kind": "html",
            "url": "https://page.example/",
            "enabled": "on",
            "fetch_interval": "06:00:00",
            "timezone": "UTC",
            "config": '{"item": "li.call", "title": "h3", "link": "a"}',
        },
    )
    assert response.status_code == 302
    source.refresh_from_db()
    assert (source.etag, source.body_sha256, source.next_fetch_at) == ("", "", None)
    assert source.config["item"] == "li.call"
