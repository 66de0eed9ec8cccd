"""Scheduled entry points of the outreach app (discovered by proletto.scheduling.registry).

Each returns its counts; the runtime logs one line per run and stores them on the run.
"""

from apscheduler.triggers.interval import IntervalTrigger
from django.conf import settings

from outreach.services.cleanup import outreach_cleanup
from outreach.services.relay import outbox_drain
from outreach.services.upsell import upsell_process_due
from proletto.scheduling.registry import ScheduledJob


def process_email_retries() -> dict:
    return outbox_drain(max_seconds=settings.EMAIL_RELAY_JOB_MAX_SECONDS)


def process_upsell_emails() -> dict:
    return upsell_process_due()


def cleanup_expired_sessions() -> dict:
    return outreach_cleanup()


JOBS = [
    ScheduledJob(
        id="process_email_retries",
        func=process_email_retries,
        trigger=IntervalTrigger(minutes=1),
        description="Send queued emails and retry failed ones with exponential backoff.",
        misfire_grace_time=60,
    ),
    ScheduledJob(
        id="process_upsell_emails",
        func=process_upsell_emails,
        trigger=IntervalTrigger(minutes=15),
        description="Queue due upsell steps; stop sequences of users who converted or expired.",
        misfire_grace_time=60,
    ),
    ScheduledJob(
        id="cleanup_expired_sessions",
        func=cleanup_expired_sessions,
        trigger=IntervalTrigger(hours=1),
        description="Expire upsell sessions; delete expired sessions, old history and emails.",
        misfire_grace_time=120,
    ),
]
