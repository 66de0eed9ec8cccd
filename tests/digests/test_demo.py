from io import StringIO

import pytest
from django.core.management import call_command

from digests.demo import render_demo_source
from digests.models import Opportunity, OpportunitySource

pytestmark = pytest.mark.django_db


def test_load_demo_creates_the_sources_and_fills_the_catalogue_once(settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    settings.DEBUG = True
    call_command("load_demo", stdout=StringIO())
    call_command("load_demo", stdout=StringIO())
    assert OpportunitySource.objects.count() == 4
    assert set(OpportunitySource.objects.values_list("kind", flat=True)) == {
        "feed",
        "json_feed",
        "html",
    }
    assert Opportunity.objects.count() == 35
    assert all(
        url.startswith("http://127.0.0.1:8000/demo-sources/")
        for url in OpportunitySource.objects.values_list("url", flat=True)
    )


def test_the_web_server_serves_demo_sources_in_debug(client, settings):
    settings.DEBUG = True
    response = client.get("/demo-sources/artcalls.rss")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/rss+xml; charset=utf-8"
    assert b"{{" not in response.content


def test_demo_sources_are_not_served_without_debug(client, settings):
    settings.DEBUG = False
    assert client.get("/demo-sources/artcalls.rss").status_code == 404


@pytest.mark.parametrize("name", ["../models.py", "nope.rss", "__init__.py"])
def test_only_the_demo_files_are_served(client, settings, name):
    settings.DEBUG = True
    assert client.get(f"/demo-sources/{name}").status_code == 404


def test_every_demo_file_has_its_placeholders_filled():
    for name in ("artcalls.rss", "residencies.atom", "grants.json", "listing.html"):
        body, _ = render_demo_source(name)
        assert b"{{" not in body
