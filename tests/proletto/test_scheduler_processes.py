"""Real `runapscheduler` processes against the test database (PostgreSQL where marked)."""

import datetime as dt
import signal
import time

import psycopg
import pytest
from django.utils import timezone
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from proletto.models import RunRequest, SchedulerLease
from proletto.scheduling.jobstore import job_pause, job_request_run, job_resume
from proletto.scheduling.leadership import LEASE_NAME
from proletto.scheduling.selectors import scheduler_status
from proletto.scheduling.statuses import EXECUTED, FAILED, INTERRUPTED, STARTED
from tests.proletto.scheduler_processes import Schedulers, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def schedulers(tmp_path):
    group = Schedulers(tmp_path)
    yield group
    group.stop_all()


def synced_leader(job_id: str):
    """Wait for a leader that has synced the job store (the lease is taken before the sync)."""
    return wait_for(
        lambda: leader() and DjangoJob.objects.filter(id=job_id).exists(),
        timeout=20,
        what=f"a leader with {job_id} synced",
    )


def leader() -> str | None:
    lease = SchedulerLease.objects.filter(name=LEASE_NAME).first()
    return lease.holder if lease and lease.holder else None


def tick_runs(status=None):
    rows = DjangoJobExecution.objects.filter(job_id="tick")
    if status:
        rows = rows.filter(status=status)
    return list(rows.order_by("run_time").values_list("run_time", flat=True))


def assert_no_fire_time_ran_twice(schedulers):
    executed = len(tick_runs(EXECUTED))
    # A run cut off by kill -9 may or may not have got as far as writing its line.
    cut_off = len(tick_runs(INTERRUPTED))
    # Each invocation of the job wrote a line: never more invocations than claimed fire times.
    invocations = len(schedulers.ticks())
    assert executed <= invocations <= executed + cut_off, schedulers.logs()


@pytest.mark.postgres
def test_two_schedulers_run_every_fire_time_exactly_once(schedulers):
    # Every 2 s: a fire time is only coalesced into the next if the machine stalls the
    # leader for longer than that.
    schedulers.start(TICK_SECONDS=2)
    schedulers.start(TICK_SECONDS=2)
    wait_for(lambda: len(tick_runs(EXECUTED)) >= 12, timeout=60, what="12 ticks")
    assert schedulers.stop_all() == [0, 0]
    executed = tick_runs(EXECUTED)
    gaps = [b - a for a, b in zip(executed, executed[1:], strict=False)]
    assert set(gaps) == {dt.timedelta(seconds=2)}, f"a fire time was skipped: {gaps}"
    assert_no_fire_time_ran_twice(schedulers)
    assert not DjangoJobExecution.objects.filter(status=STARTED).exists()


@pytest.mark.postgres
def test_a_standby_takes_over_when_the_leader_is_killed(schedulers):
    processes = {p.pid: p for p in (schedulers.start(), schedulers.start(), schedulers.start())}
    first = wait_for(leader, timeout=20, what="a leader")
    wait_for(lambda: len(tick_runs(EXECUTED)) >= 5, timeout=30, what="5 ticks")
    processes[int(first.split(":")[1])].send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    second = wait_for(lambda: leader() not in (None, first) and leader(), timeout=30, what="new")
    runs_before = len(tick_runs(EXECUTED))
    wait_for(lambda: len(tick_runs(EXECUTED)) > runs_before + 3, timeout=30, what="new ticks")
    assert time.monotonic() - killed_at < 30
    assert second != first
    assert sorted(schedulers.stop_all())[1:] == [0, 0]  # the killed one ends with -9
    assert_no_fire_time_ran_twice(schedulers)


def test_sigterm_exits_0_and_leaves_no_started_run(schedulers):
    process = schedulers.start(LONG_RUNNING_SECONDS=60, SCHEDULER_SHUTDOWN_GRACE_SECONDS=1)
    synced_leader("long_running")
    job_request_run(job_id="long_running", requested_by="test")
    wait_for(
        lambda: DjangoJobExecution.objects.filter(job_id="long_running").exists(),
        timeout=10,
        what="the long job to start",
    )
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    execution = DjangoJobExecution.objects.get(job_id="long_running")
    assert execution.status == INTERRUPTED
    assert not DjangoJobExecution.objects.filter(status=STARTED).exists()
    assert leader() is None  # released: a standby need not wait for the lease to expire


def test_run_now_reaches_the_leader_and_survives_a_dropped_connection(schedulers):
    schedulers.start()
    synced_leader("drops_connection")
    requested = time.monotonic()
    request = job_request_run(job_id="drops_connection", requested_by="test")

    def handled():
        request.refresh_from_db()
        return request.status == RunRequest.Status.FAILED

    wait_for(handled, timeout=10, what="the run request")
    assert time.monotonic() - requested < 5
    execution = DjangoJobExecution.objects.get(pk=request.execution_id)
    assert execution.status == FAILED
    # The scheduler kept going on a fresh connection.
    runs = len(tick_runs(EXECUTED))
    wait_for(lambda: len(tick_runs(EXECUTED)) > runs, timeout=10, what="another tick")
    assert schedulers.stop_all() == [0]


def test_the_leader_notices_a_pause_made_elsewhere(schedulers):
    schedulers.start()
    wait_for(lambda: len(tick_runs(EXECUTED)) >= 2, timeout=20, what="2 ticks")
    job_pause(job_id="tick")
    paused_at = timezone.now()
    # A window of real time in which the leader (polling every 0.5 s) must not start it.
    time.sleep(5)
    late = DjangoJobExecution.objects.filter(
        job_id="tick", run_time__gt=paused_at + dt.timedelta(seconds=1)
    )
    assert not late.exists()
    count = len(tick_runs())
    job_resume(job_id="tick")
    wait_for(lambda: len(tick_runs()) > count, timeout=5, what="a tick after resume")


@pytest.mark.postgres
def test_the_scheduler_survives_a_database_outage_and_catches_up(schedulers):
    from django.db import connection

    process = schedulers.start()
    wait_for(lambda: len(tick_runs(EXECUTED)) >= 2, timeout=20, what="2 ticks")
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database(), pg_backend_pid()")
        name, own_pid = cursor.fetchone()
    params = connection.settings_dict
    admin = psycopg.connect(
        host=params["HOST"],
        port=params["PORT"],
        user=params["USER"],
        dbname="postgres",
        autocommit=True,
    )
    try:
        # The database refuses the scheduler for longer than its lease (4 s): a real outage
        # as the scheduler sees it, without stopping the server other tests share.
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> %s",
            [name, own_pid],
        )
        outage_started = timezone.now()
        time.sleep(6)
    finally:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        admin.close()
    wait_for(
        lambda: (
            DjangoJobExecution.objects.filter(
                job_id="tick", status=EXECUTED, run_time__gt=outage_started
            ).count()
            >= 3
        ),
        timeout=30,
        what="ticks after the outage",
    )
    assert process.poll() is None
    logs = schedulers.logs()
    assert logs.count("database unavailable") == 1, logs
    assert "database is back" in logs
    assert schedulers.stop_all() == [0]
    assert_no_fire_time_ran_twice(schedulers)


def test_the_status_counts_the_standby_until_it_stops(schedulers):
    processes = {p.pid: p for p in (schedulers.start(), schedulers.start())}
    wait_for(
        lambda: leader() and scheduler_status(with_jobs=False)["standbys"] == 1,
        timeout=20,
        what="a leader and one standby",
    )
    # Either process may have won the lease: stop the other one.
    leader_pid = int(leader().split(":")[1])
    [standby] = [p for pid, p in processes.items() if pid != leader_pid]
    standby.send_signal(signal.SIGTERM)
    assert standby.wait(timeout=20) == 0
    assert scheduler_status(with_jobs=False)["standbys"] == 0


@pytest.mark.postgres
def test_a_leader_keeps_running_jobs_past_a_row_it_cannot_read(schedulers):
    schedulers.start()
    synced_leader("tick")
    wait_for(lambda: len(tick_runs(EXECUTED)) >= 2, timeout=30, what="2 ticks")
    # A row corrupted after the leader's sync, and due now: the leader reads it every poll.
    DjangoJob.objects.filter(id="long_running").update(
        job_state=b"\x00corrupt", next_run_time=timezone.now()
    )
    seen = len(tick_runs(EXECUTED))
    wait_for(lambda: len(tick_runs(EXECUTED)) >= seen + 3, timeout=30, what="3 more ticks")
    assert schedulers.stop_all() == [0]
    # Said once, not at each of the polls it was skipped at.
    assert schedulers.logs().count("job 'long_running': unreadable job state") == 1
    assert not DjangoJobExecution.objects.filter(job_id="long_running").exists()
