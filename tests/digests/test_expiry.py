import datetime as dt

import pytest
import time_machine

from digests.models import Opportunity
from digests.selectors import open_opportunities
from digests.services.opportunities import opportunities_expire
from digests.services.scrape import opportunities_scrape

from .conftest import NOW

pytestmark = pytest.mark.django_db


def make(title, deadline, **fields):
    return Opportunity.objects.create(
        title=title,
        url=f"https://ex.org/{title}",
        deadline=deadline,
        content_hash="x",
        first_seen_at=NOW,
        last_seen_at=NOW,
        **fields,
    )


def test_it_expires_opportunities_past_their_deadline():
    past = make("past", NOW - dt.timedelta(seconds=1))
    future = make("future", NOW + dt.timedelta(days=1))
    rolling = make("rolling", None)
    with time_machine.travel(NOW, tick=False):
        assert opportunities_expire() == 1
    statuses = dict(Opportunity.objects.values_list("title", "status"))
    assert statuses == {"past": "expired", "future": "active", "rolling": "active"}
    assert {past.pk, future.pk, rolling.pk} == set(Opportunity.objects.values_list("pk", flat=True))


def test_open_opportunities_leaves_out_passed_deadlines_the_sweep_has_not_reached():
    make("past", NOW - dt.timedelta(hours=1))
    make("future", NOW + dt.timedelta(hours=1))
    make("rolling", None)
    make("expired", NOW + dt.timedelta(days=3), status=Opportunity.Status.EXPIRED)
    titles = set(open_opportunities(now=NOW).values_list("title", flat=True))
    assert titles == {"future", "rolling"}


def test_a_scrape_run_expires_what_has_passed(demo_sources):
    with time_machine.travel(NOW, tick=False):
        opportunities_scrape(sources=[demo_sources["json_feed"]])
    # The earliest demo grant closes 22 days after the day served.
    with time_machine.travel(NOW + dt.timedelta(days=23), tick=False):
        summary = opportunities_scrape(sources=[])
    assert summary.expired == 1
    assert Opportunity.objects.get(status="expired").title == "Photobook Production Grant"


def test_an_item_scraped_after_its_deadline_is_stored_expired(demo_sources):
    with time_machine.travel(NOW + dt.timedelta(days=23), tick=False):
        opportunities_scrape(sources=[demo_sources["json_feed"]])
    assert Opportunity.objects.get(status="expired").title == "Photobook Production Grant"
