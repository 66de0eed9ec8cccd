"""Jobs for bench/scheduler.py (SCHEDULER_JOB_MODULES=bench.scheduler_jobs).

With BENCH_CONNECT_LOG set, every database connection the process opens from then on is
logged there (time and thread), to count new sessions per minute.
"""

import os
import threading
import time

from apscheduler.triggers.interval import IntervalTrigger
from django.db.backends.signals import connection_created
from django_apscheduler.models import DjangoJobExecution

from proletto.scheduling.registry import ScheduledJob


def connects_log(path: str) -> None:
    """Log every database connection this process opens from now on to `path`."""

    def log_connect(sender, connection, **kwargs):
        with open(path, "a") as log:
            log.write(f"{time.time():.3f} {threading.current_thread().name}\n")

    connection_created.connect(log_connect, weak=False)


if os.environ.get("BENCH_CONNECT_LOG"):
    connects_log(os.environ["BENCH_CONNECT_LOG"])


def bench_tick():
    started = time.time()
    # This run's own execution row carries the fire time it was started for.
    run_time = (
        DjangoJobExecution.objects.filter(job_id="bench_tick", status="Started execution")
        .latest("run_time")
        .run_time
    )
    with open(os.environ["BENCH_FIRE_LOG"], "a") as log:
        log.write(f"{started - run_time.timestamp():.6f}\n")


def bench_noop():
    return {}


JOBS = [
    ScheduledJob(
        id="bench_tick",
        func=bench_tick,
        trigger=IntervalTrigger(seconds=1),
        description="Measures the delay from its fire time to its start.",
    ),
    ScheduledJob(
        id="bench_noop",
        func=bench_noop,
        trigger=IntervalTrigger(days=1),
        description="Run on request to measure run-now pickup.",
    ),
]
