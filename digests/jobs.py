"""Scheduled entry points of the digests app (discovered by proletto.scheduling.registry)."""

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from django.conf import settings

from digests.services.digest import digests_send_due
from digests.services.scrape import opportunities_scrape
from proletto.scheduling.registry import ScheduledJob


def scrape_opportunities() -> dict:
    return opportunities_scrape().as_counts()


SEND_WEEKLY_DIGESTS = "send_weekly_digests"


def send_weekly_digests() -> dict:
    return digests_send_due(batch_size=settings.DIGEST_BATCH_SIZE)


JOBS = [
    ScheduledJob(
        id="scrape_opportunities",
        func=scrape_opportunities,
        trigger=IntervalTrigger(hours=6),
        description="Fetch due, enabled opportunity sources; upsert opportunities; expire old.",
    ),
    ScheduledJob(
        id=SEND_WEEKLY_DIGESTS,
        func=send_weekly_digests,
        # Every quarter hour so that Monday 08:00 arrives on time in every time zone,
        # including those with :30 and :45 offsets; each run queues only the users due.
        trigger=CronTrigger(minute="*/15", timezone="UTC"),
        description="Queue this week's digest for Pro artists whose local Monday 08:00 has come.",
    ),
]
