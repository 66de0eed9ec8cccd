"""A database outage while a job runs: the run's outcome is still recorded, and `runjob` is
not blocked. Real `runapscheduler` processes connect through tests/faults.py's proxy, which
the test stops (connections cut, new ones refused) and starts again."""

import time
from io import StringIO

import pytest
from django.core.management import call_command
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from proletto.models import JobRun
from proletto.scheduling import statuses
from proletto.scheduling.jobstore import job_request_run
from tests.faults import DatabaseProxy
from tests.proletto.scheduler_processes import Schedulers, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
POLL_SECONDS = 0.5


@pytest.fixture
def proxy():
    with DatabaseProxy() as running:
        yield running


@pytest.fixture
def schedulers(tmp_path):
    group = Schedulers(tmp_path)
    yield group
    group.stop_all()


def run_of(job_id):
    return DjangoJobExecution.objects.filter(job_id=job_id).order_by("-pk").first()


def start_long_run(schedulers, proxy, **env):
    process = schedulers.start(
        DATABASE_URL=proxy.database_url(),
        LONG_RUNNING_SECONDS=3,
        SCHEDULER_POLL_SECONDS=POLL_SECONDS,
        **env,
    )
    wait_for(
        lambda: DjangoJob.objects.filter(id="long_running").exists(), timeout=30, what="a sync"
    )
    job_request_run(job_id="long_running", requested_by="test")
    wait_for(lambda: run_of("long_running"), timeout=20, what="the long job to start")
    return process


def test_an_outcome_reached_during_an_outage_is_recorded_when_the_database_returns(
    schedulers, proxy
):
    start_long_run(schedulers, proxy)
    proxy.stop()
    wait_for(
        lambda: "outcome cannot be recorded yet" in schedulers.logs(),
        timeout=30,
        what="the job to end while the database is away",
    )
    assert run_of("long_running").status == statuses.STARTED
    proxy.start()
    back_at = time.monotonic()
    wait_for(
        lambda: run_of("long_running").status == statuses.EXECUTED,
        timeout=30,
        what="the outcome",
    )
    recorded_after = time.monotonic() - back_at
    assert JobRun.objects.get(pk=run_of("long_running").pk).trigger == "requested"
    print(f"outcome recorded {recorded_after:.2f} s after the database came back")


def test_a_run_left_by_a_scheduler_stopped_during_an_outage_is_closed_and_runjob_works(
    schedulers, proxy, settings, monkeypatch
):
    first = start_long_run(schedulers, proxy, SCHEDULER_SHUTDOWN_GRACE_SECONDS=5)
    proxy.stop()
    wait_for(
        lambda: "outcome cannot be recorded yet" in schedulers.logs(),
        timeout=30,
        what="the job to end while the database is away",
    )
    first.terminate()  # stopped while the database is away: it cannot say so
    assert first.wait(timeout=30) == 0
    orphan = run_of("long_running")
    assert orphan.status == statuses.STARTED
    proxy.start()
    schedulers.start(DATABASE_URL=proxy.database_url(), SCHEDULER_POLL_SECONDS=POLL_SECONDS)
    wait_for(
        lambda: run_of("long_running").status == statuses.INTERRUPTED,
        timeout=60,
        what="the orphaned run to be closed",
    )
    orphan.refresh_from_db()
    holder = JobRun.objects.get(pk=orphan.pk).holder
    assert orphan.exception.startswith(f"interrupted: {holder} stopped answering (last seen")
    # `runjob` is not blocked by it.
    settings.SCHEDULER_JOB_MODULES = ["tests.proletto.scheduler_jobs_live"]
    settings.SCHEDULE_OVERRIDES = {}
    monkeypatch.setenv("LONG_RUNNING_SECONDS", "0")
    out = StringIO()
    call_command("runjob", "long_running", stdout=out)
    assert "ran" in out.getvalue()
