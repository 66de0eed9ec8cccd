"""Scheduled jobs of the core app; each returns its counts (the runtime logs and stores them)."""

from apscheduler.triggers.interval import IntervalTrigger
from django.conf import settings

from proletto.inbox.services import inbox_process, inbox_prune
from proletto.monitoring.services import health_run
from proletto.scheduling.history import job_history_prune
from proletto.scheduling.registry import MissedRunPolicy, ScheduledJob


def prune_job_history() -> dict:
    return job_history_prune()


def maintenance_bot() -> dict:
    return health_run()


def process_inbox() -> dict:
    return inbox_process(max_seconds=settings.INBOX_JOB_MAX_SECONDS)


def prune_inbox() -> dict:
    return {"deleted": inbox_prune()}


JOBS = [
    ScheduledJob(
        id="prune_job_history",
        func=prune_job_history,
        trigger=IntervalTrigger(hours=1),
        description=(
            "Delete job runs and handled run-now requests older than JOB_EXECUTION_RETENTION_DAYS."
        ),
        missed_run_policy=MissedRunPolicy.SKIP,
    ),
    ScheduledJob(
        id="maintenance_bot",
        func=maintenance_bot,
        trigger=IntervalTrigger(minutes=5),
        description="Run the health checks, keep their history, email ADMINS when one changes.",
        # A missed check is not worth catching up: the next one is five minutes away.
        missed_run_policy=MissedRunPolicy.SKIP,
    ),
    ScheduledJob(
        id="process_inbox",
        func=process_inbox,
        trigger=IntervalTrigger(minutes=1),
        description="Apply stored webhook events (Stripe, ESP), retrying failed ones with backoff.",
        misfire_grace_time=60,
    ),
    ScheduledJob(
        id="prune_inbox",
        func=prune_inbox,
        trigger=IntervalTrigger(hours=1),
        description="Delete applied and rejected webhook events older than INBOX_RETENTION_DAYS.",
        missed_run_policy=MissedRunPolicy.SKIP,
    ),
]
