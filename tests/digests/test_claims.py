"""Which sources a run takes: due and enabled ones, each by one run at a time."""

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection

from digests.models import OpportunitySource
from digests.selectors import sources_due
from digests.services.scrape import opportunities_scrape, source_claim

from .conftest import NOW

pytestmark = pytest.mark.django_db


def test_a_scheduled_run_takes_only_enabled_sources_that_are_due(feed_server, make_source):
    url = feed_server.serve_demo("artcalls.rss")
    make_source("New", url)
    make_source("Due", url, next_fetch_at=NOW - dt.timedelta(minutes=1))
    make_source("Not due", url, next_fetch_at=NOW + dt.timedelta(minutes=1))
    make_source("Disabled", url, enabled=False)
    with time_machine.travel(NOW, tick=False):
        summary = opportunities_scrape()
    assert sorted(result.name for result in summary.results) == ["Due", "New"]


def test_a_source_is_due_again_after_its_interval(feed_server, make_source):
    url = feed_server.serve_demo("artcalls.rss")
    make_source("Hourly", url, fetch_interval=dt.timedelta(hours=1))
    with time_machine.travel(NOW, tick=False):
        opportunities_scrape()
    assert not sources_due(now=NOW + dt.timedelta(minutes=59)).exists()
    assert sources_due(now=NOW + dt.timedelta(hours=1)).exists()


def test_a_source_another_run_is_scraping_is_left_alone(feed_server, make_source):
    source = make_source("Busy", feed_server.serve_demo("artcalls.rss"))
    OpportunitySource.objects.filter(pk=source.pk).update(
        claimed_until=NOW + dt.timedelta(minutes=1)
    )
    with time_machine.travel(NOW, tick=False):
        (result,) = opportunities_scrape(sources=[source]).results
    assert result.status == "busy"
    assert feed_server.requests == []


def test_a_claim_left_by_a_crashed_run_expires(feed_server, make_source):
    source = make_source("Crashed", feed_server.serve_demo("artcalls.rss"))
    stale = NOW - dt.timedelta(seconds=1)
    OpportunitySource.objects.filter(pk=source.pk).update(claimed_until=stale)
    with time_machine.travel(NOW, tick=False):
        (result,) = opportunities_scrape(sources=[source]).results
    assert result.status == "ok"
    source.refresh_from_db()
    assert source.claimed_until is None


def test_a_scheduled_run_skips_a_source_another_scheduler_just_scraped(feed_server, make_source):
    source = make_source("Raced", feed_server.serve_demo("artcalls.rss"))
    stale_copy = OpportunitySource.objects.get(pk=source.pk)
    with time_machine.travel(NOW, tick=False):
        opportunities_scrape()
        lease = dt.timedelta(minutes=1)
        assert source_claim(source=stale_copy, now=NOW, lease=lease, due_only=True) is False


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_claiming_at_once_take_each_source_once(make_source):
    sources = [make_source(f"S{i}", f"http://127.0.0.1:9/{i}") for i in range(20)]
    barrier = threading.Barrier(2)
    taken = [[], []]

    def claim_all(index):
        try:
            barrier.wait()
            for source in sources:
                copy = OpportunitySource.objects.get(pk=source.pk)
                if source_claim(source=copy, now=NOW, lease=dt.timedelta(minutes=1), due_only=True):
                    taken[index].append(source.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim_all, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken[0] + taken[1]) == sorted(source.pk for source in sources)
