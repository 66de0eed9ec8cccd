"""A job that runs every fire time (coalesce=False), for the scheduler's unit tests."""

import datetime as dt

from apscheduler.triggers.interval import IntervalTrigger

from proletto.scheduling.registry import ScheduledJob

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def every_minute():
    return {"done": 1}


JOBS = [
    ScheduledJob(
        id="every_minute",
        func=every_minute,
        trigger=IntervalTrigger(minutes=1, start_date=EPOCH),
        description="Runs every minute, every fire time.",
        coalesce=False,
        misfire_grace_time=180,
    ),
]
