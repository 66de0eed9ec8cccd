"""Scheduled jobs of the core app (the maintenance bot joins them with issue #8)."""

from apscheduler.triggers.interval import IntervalTrigger

from proletto.scheduling.registry import MissedRunPolicy, ScheduledJob
from proletto.scheduling.services import run_requests_prune


def prune_run_requests() -> dict:
    return {"deleted": run_requests_prune()}


JOBS = [
    ScheduledJob(
        id="prune_run_requests",
        func=prune_run_requests,
        trigger=IntervalTrigger(hours=1),
        description="Delete handled run-now requests older than JOB_EXECUTION_RETENTION_DAYS.",
        missed_run_policy=MissedRunPolicy.SKIP,
    ),
]
