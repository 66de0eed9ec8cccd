"""Drill 6: the database becomes unreachable (connections cut, new ones refused, through
tests/faults.py's proxy) for DRILL_OUTAGE_SECONDS while a scheduler runs a per-second job.
When it returns, the scheduler runs jobs again within SCHEDULER_POLL_SECONDS (its outage
backoff is capped at one poll), and no run is left "Started". The time from the database's
return to the first new run is recorded (test-artifacts/drills.json)."""

import os
import time

import pytest
from django.utils import timezone
from django_apscheduler.models import DjangoJobExecution

from proletto.scheduling.statuses import EXECUTED, STARTED
from tests.drills.scheduler_drill import executed_ticks, leader, record_figures
from tests.faults import DatabaseProxy
from tests.proletto.scheduler_processes import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
# The suite runs a short outage; `make drills` can set a longer one (the was 20 s).
OUTAGE_SECONDS = float(os.environ.get("DRILL_OUTAGE_SECONDS", "6"))
POLL_SECONDS = 2.0


def test_the_scheduler_runs_again_within_a_poll_of_the_database_returning(schedulers):
    with DatabaseProxy() as proxy:
        schedulers.start(
            DATABASE_URL=proxy.database_url(),
            TICK_SECONDS=1,
            SCHEDULER_POLL_SECONDS=POLL_SECONDS,
            SCHEDULER_LEASE_SECONDS=30,
            SCHEDULER_HEARTBEAT_STALE_SECONDS=60,
        )
        wait_for(leader, timeout=30, what="a leader")
        wait_for(lambda: executed_ticks() >= 3, timeout=30, what="3 ticks")
        proxy.stop()
        time.sleep(OUTAGE_SECONDS)  # the outage itself: real time the scheduler must live through
        proxy.start()
        back_at, back_at_wall = time.monotonic(), timezone.now()
        wait_for(
            lambda: DjangoJobExecution.objects.filter(
                job_id="tick", status=EXECUTED, run_time__gte=back_at_wall
            ).exists(),
            timeout=OUTAGE_SECONDS + 60,
            what="a run after the database came back",
        )
        recovered_after = time.monotonic() - back_at
        assert schedulers.stop_all() == [0]
    assert not DjangoJobExecution.objects.filter(status=STARTED).exists()
    record_figures(
        "database_outage",
        {
            "outage_seconds": OUTAGE_SECONDS,
            "poll_seconds": POLL_SECONDS,
            "first_run_after_return_seconds": round(recovered_after, 2),
        },
    )
