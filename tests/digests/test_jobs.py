import datetime as dt

import pytest
import time_machine
from apscheduler.triggers.interval import IntervalTrigger

from digests.jobs import scrape_opportunities
from digests.models import Opportunity
from proletto.scheduling.registry import declared_jobs

from .conftest import NOW

pytestmark = pytest.mark.django_db


def test_the_scrape_job_is_declared_every_six_hours():
    job = declared_jobs()["scrape_opportunities"]
    assert isinstance(job.trigger, IntervalTrigger)
    assert job.trigger.interval == dt.timedelta(hours=6)
    assert job.func_ref == "digests.jobs:scrape_opportunities"


def test_the_job_scrapes_due_sources_and_returns_counts(demo_sources):
    with time_machine.travel(NOW, tick=False):
        counts = scrape_opportunities()
    assert counts == {
        "sources": 4,
        "failed": 0,
        "not_modified": 0,
        "busy": 0,
        "created": 35,
        "updated": 0,
        "unchanged": 0,
        "skipped_items": 0,
        "expired": 0,
    }
    assert Opportunity.objects.count() == 35


def test_the_job_run_again_right_away_finds_nothing_due(demo_sources):
    with time_machine.travel(NOW, tick=False):
        scrape_opportunities()
        assert scrape_opportunities()["sources"] == 0
