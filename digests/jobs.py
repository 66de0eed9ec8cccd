"""Scheduled entry points of the digests app (discovered by proletto.scheduling.registry)."""

from apscheduler.triggers.interval import IntervalTrigger

from digests.services import opportunities_scrape
from proletto.scheduling.registry import ScheduledJob


def scrape_opportunities() -> dict:
    return opportunities_scrape().as_counts()


JOBS = [
    ScheduledJob(
        id="scrape_opportunities",
        func=scrape_opportunities,
        trigger=IntervalTrigger(hours=6),
        description="Fetch due, enabled opportunity sources; upsert opportunities; expire old.",
    ),
]
