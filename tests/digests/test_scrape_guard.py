"""The address guard in a real scrape, and `make demo`'s opt-in for its own local sources."""

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from digests.models import Opportunity, OpportunitySource
from digests.services.scrape import opportunities_scrape

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_a_source_redirecting_to_an_internal_service_publishes_nothing(
    feed_server, make_source, settings
):
    settings.SCRAPE_ALLOW_PRIVATE_NETWORKS = False
    feed_server.serve("/secret", "INTERNAL-SECRET db_password=hunter2", "application/rss+xml")
    source = make_source("Hostile", feed_server.url("/secret"))
    (result,) = opportunities_scrape(sources=[source]).results
    source.refresh_from_db()
    assert result.status == "failed"
    assert source.last_error.startswith("refused: 127.0.0.1 resolves to a loopback address")
    assert feed_server.requests_to("/secret") == []
    assert not Opportunity.objects.exists()


def test_make_demo_and_only_make_demo_allows_private_networks():
    makefile = (ROOT / "Makefile").read_text()
    (demo_env,) = re.findall(r"^DEMO_ENV :=(.*)$", makefile, re.M)
    assert "SCRAPE_ALLOW_PRIVATE_NETWORKS=true" in demo_env.split()
    assert makefile.count("SCRAPE_ALLOW_PRIVATE_NETWORKS") == 1


@pytest.mark.django_db(transaction=True)
def test_the_demo_scrapes_its_own_local_sources_with_its_settings(live_server, settings):
    # As `make demo` runs: its own web server serves the sources, on this machine.
    settings.DEBUG = True
    settings.SITE_URL = live_server.url
    settings.SCRAPE_ALLOW_PRIVATE_NETWORKS = True
    call_command("load_demo", stdout=StringIO())
    summary = opportunities_scrape(sources=list(OpportunitySource.objects.all()))
    assert {result.status for result in summary.results} <= {"ok", "not_modified"}
    assert summary.as_counts()["failed"] == 0
    assert len(summary.results) == 4
