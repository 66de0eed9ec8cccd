"""Jobs for the real-process scheduler tests (SCHEDULER_JOB_MODULES in the child's env)."""

import os
import time

from apscheduler.triggers.interval import IntervalTrigger
from django.db import connection

from proletto.scheduling.registry import ScheduledJob


def tick():
    # Every invocation leaves a line, so a duplicate run shows even where the unique
    # execution row would hide it.
    with open(os.environ["TICK_LOG"], "a") as log:
        log.write(f"{os.getpid()}\n")
    return {"pid": os.getpid()}


def long_running():
    # Long enough to be cut off by a short shutdown grace.
    time.sleep(float(os.environ.get("LONG_RUNNING_SECONDS", "30")))


def drops_connection():
    # What a database restart does to a job mid-run: the server ends its session.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    else:
        connection.close()
        raise ConnectionError("connection dropped")


def session_probe():
    # The database session this run used: a job's runs should share one.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend_pid,) = cursor.fetchone()
    with open(os.environ["SESSION_LOG"], "a") as log:
        log.write(f"{backend_pid}\n")


JOBS = [
    ScheduledJob(
        id="tick",
        func=tick,
        trigger=IntervalTrigger(seconds=int(os.environ.get("TICK_SECONDS", "1"))),
        description="Fires every second.",
        # The drills run every fire time (coalesce=False) to show none is lost or doubled.
        coalesce=os.environ.get("TICK_COALESCE", "true") == "true",
    ),
    ScheduledJob(
        id="long_running",
        func=long_running,
        trigger=IntervalTrigger(days=1),
        description="Runs on request only (daily).",
    ),
    ScheduledJob(
        id="drops_connection",
        func=drops_connection,
        trigger=IntervalTrigger(days=1),
        description="Loses its database connection mid-run.",
    ),
    ScheduledJob(
        id="session_probe",
        func=session_probe,
        trigger=IntervalTrigger(seconds=int(os.environ.get("SESSION_PROBE_SECONDS", "86400"))),
        description="Records its database session (every SESSION_PROBE_SECONDS, daily).",
    ),
]
