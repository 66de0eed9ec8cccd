"""Drill 4: every connection to the database is terminated (pg_terminate_backend), three
times, while two schedulers run. Both recover without a restart, later fire times run, and
every fire time runs exactly once; recovery times are recorded (test-artifacts/drills.json)."""

import datetime as dt
import time

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from django_apscheduler.models import DjangoJobExecution

from proletto.scheduling.statuses import EXECUTED
from tests.drills.scheduler_drill import (
    assert_every_tick_ran_once,
    leader,
    record_figures,
    wait_for_more_ticks,
)
from tests.proletto.scheduler_processes import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def terminate_every_other_connection() -> int:
    """What a PostgreSQL restart does to its clients: every session of the database ends
    (but this test's own, which the drill needs to watch)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database(), pg_backend_pid()")
        name, own_pid = cursor.fetchone()
    params = connection.settings_dict
    with psycopg.connect(
        host=params["HOST"],
        port=params["PORT"],
        user=params["USER"],
        dbname="postgres",
        autocommit=True,
    ) as admin:
        terminated = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> %s",
            [name, own_pid],
        ).fetchone()[0]
    return terminated


def ran_after(moment: dt.datetime) -> bool:
    return DjangoJobExecution.objects.filter(
        job_id="tick", status=EXECUTED, run_time__gt=moment
    ).exists()


def test_schedulers_recover_when_every_connection_is_terminated(schedulers):
    env = {"TICK_SECONDS": 1, "TICK_COALESCE": "false"}
    processes = [schedulers.start(**env), schedulers.start(**env)]
    wait_for(leader, timeout=30, what="a leader")

    recoveries = []
    for _ in range(3):
        wait_for_more_ticks(2)
        terminated_at, started = timezone.now(), time.monotonic()
        assert terminate_every_other_connection() >= 2  # at least both schedulers' sessions
        wait_for(lambda t=terminated_at: ran_after(t), timeout=30, what="a tick after")
        recoveries.append(round(time.monotonic() - started, 2))
    wait_for_more_ticks(5, what="later fire times")

    assert [p.poll() for p in processes] == [None, None], "a scheduler died"
    assert schedulers.stop_all() == [0, 0]
    assert_every_tick_ran_once(schedulers)
    assert "database unavailable" in schedulers.logs()
    record_figures("connections_terminated", {"recovery_seconds": recoveries})
