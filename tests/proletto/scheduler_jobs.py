"""Jobs for the scheduler's unit tests (SCHEDULER_JOB_MODULES points here)."""

import datetime as dt
import time

from apscheduler.triggers.interval import IntervalTrigger

from proletto.scheduling.registry import MissedRunPolicy, ScheduledJob

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
CALLS: list[str] = []


def hourly():
    CALLS.append("hourly")
    return {"done": 1}


def hourly_skip():
    CALLS.append("hourly_skip")


def failing():
    raise RuntimeError("the source answered 500")


def slow():
    time.sleep(0.3)  # the job's own work; the test measures its real duration


JOBS = [
    ScheduledJob(
        id="hourly",
        func=hourly,
        trigger=IntervalTrigger(hours=1, start_date=EPOCH),
        description="Runs every hour; a missed run is run once.",
    ),
    ScheduledJob(
        id="hourly_skip",
        func=hourly_skip,
        trigger=IntervalTrigger(hours=1, start_date=EPOCH),
        description="Runs every hour; a missed run is recorded and skipped.",
        missed_run_policy=MissedRunPolicy.SKIP,
        misfire_grace_time=60,
    ),
    ScheduledJob(
        id="failing",
        func=failing,
        trigger=IntervalTrigger(days=1, start_date=EPOCH),
        description="Always fails.",
    ),
    ScheduledJob(
        id="slow",
        func=slow,
        trigger=IntervalTrigger(days=1, start_date=EPOCH),
        description="Takes a while.",
    ),
]
