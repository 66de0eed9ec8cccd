"""Scheduled jobs of the core app."""

from apscheduler.triggers.interval import IntervalTrigger

from proletto.monitoring.services import health_run
from proletto.scheduling.execution import run_requests_prune
from proletto.scheduling.registry import MissedRunPolicy, ScheduledJob


def prune_run_requests() -> dict:
    return {"deleted": run_requests_prune()}


def maintenance_bot() -> dict:
    return health_run()


JOBS = [
    ScheduledJob(
        id="prune_run_requests",
        func=prune_run_requests,
        trigger=IntervalTrigger(hours=1),
        description="Delete handled run-now requests older than JOB_EXECUTION_RETENTION_DAYS.",
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
]
