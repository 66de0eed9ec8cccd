"""Jobs for bench/scheduler.py (SCHEDULER_JOB_MODULES=bench.scheduler_jobs)."""

import os
import time

from apscheduler.triggers.interval import IntervalTrigger
from django_apscheduler.models import DjangoJobExecution

from proletto.scheduling.registry import ScheduledJob


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
