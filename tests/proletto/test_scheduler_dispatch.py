import datetime as dt

import pytest
import time_machine
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from proletto.scheduling import statuses
from proletto.scheduling.claims import due_runs_claim
from proletto.scheduling.execution import job_execute
from proletto.scheduling.jobstore import job_pause, jobs_sync
from proletto.scheduling.leadership import lease_acquire
from proletto.scheduling.runtime import SchedulerProcess
from tests.proletto.lease_time import lease_ages

pytestmark = pytest.mark.django_db
SYNCED_AT = dt.datetime(2026, 3, 2, 10, 20, tzinfo=dt.UTC)
ELEVEN = dt.datetime(2026, 3, 2, 11, 0, tzinfo=dt.UTC)


@pytest.fixture
def synced(scheduler_jobs_declared):
    jobs_sync(now=SYNCED_AT)
    return scheduler_jobs_declared


def executions(job_id, status=None):
    rows = DjangoJobExecution.objects.filter(job_id=job_id).order_by("run_time")
    return list(rows.filter(status=status) if status else rows)


def test_it_claims_a_due_fire_time_once(synced):
    first = due_runs_claim(now=ELEVEN, running=set())
    second = due_runs_claim(now=ELEVEN, running=set())
    assert [claim.job.id for claim in first] == ["hourly", "hourly_skip"]
    assert second == []
    assert [e.run_time for e in executions("hourly")] == [ELEVEN]


def test_claiming_moves_the_job_to_its_next_fire_time(synced):
    due_runs_claim(now=ELEVEN, running=set())
    assert DjangoJob.objects.get(id="hourly").next_run_time == ELEVEN + dt.timedelta(hours=1)


def test_the_execution_row_is_the_last_line_against_a_second_run(synced):
    DjangoJobExecution.objects.create(job_id="hourly", run_time=ELEVEN, status=statuses.EXECUTED)
    claims = due_runs_claim(now=ELEVEN, running=set())
    assert "hourly" not in [claim.job.id for claim in claims]


def test_a_run_missed_during_downtime_runs_once_on_start(synced):
    five_hours_later = ELEVEN + dt.timedelta(hours=5, minutes=10)
    claims = due_runs_claim(now=five_hours_later, running=set())
    assert "hourly" in [claim.job.id for claim in claims]
    assert [e.run_time for e in executions("hourly", statuses.STARTED)] == [
        ELEVEN + dt.timedelta(hours=5)
    ]
    assert DjangoJob.objects.get(id="hourly").next_run_time == ELEVEN + dt.timedelta(hours=6)


def test_the_fire_times_a_run_once_job_missed_are_recorded(synced):
    due_runs_claim(now=ELEVEN + dt.timedelta(hours=2, minutes=10), running=set())
    missed = executions("hourly", statuses.MISSED)
    assert [e.run_time for e in missed] == [ELEVEN, ELEVEN + dt.timedelta(hours=1)]
    assert "ran once for 2026-03-02T13:00:00+00:00" in missed[0].exception


def test_a_run_missed_during_downtime_is_recorded_for_a_skip_job(synced):
    claims = due_runs_claim(now=ELEVEN + dt.timedelta(hours=2, minutes=10), running=set())
    assert "hourly_skip" not in [claim.job.id for claim in claims]
    missed = executions("hourly_skip", statuses.MISSED)
    assert [e.run_time for e in missed] == [ELEVEN + dt.timedelta(hours=h) for h in range(3)]
    assert "no scheduler ran" in missed[0].exception


def test_a_skip_job_late_within_its_grace_still_runs(synced):
    claims = due_runs_claim(now=ELEVEN + dt.timedelta(seconds=30), running=set())
    assert "hourly_skip" in [claim.job.id for claim in claims]


def test_a_paused_job_does_not_run(synced):
    job_pause(job_id="hourly")
    claims = due_runs_claim(now=ELEVEN + dt.timedelta(days=1), running=set())
    assert "hourly" not in [claim.job.id for claim in claims]
    assert executions("hourly") == []


def test_a_job_still_running_is_not_started_again(synced):
    claims = due_runs_claim(now=ELEVEN, running={"hourly"})
    assert "hourly" not in [claim.job.id for claim in claims]
    [row] = executions("hourly")
    assert row.status == statuses.MAX_INSTANCES


def test_a_hand_edited_next_run_time_is_honoured(synced):
    DjangoJob.objects.filter(id="hourly").update(next_run_time=SYNCED_AT + dt.timedelta(minutes=5))
    claims = due_runs_claim(now=SYNCED_AT + dt.timedelta(minutes=5), running=set())
    assert [claim.job.id for claim in claims] == ["hourly"]
    assert DjangoJob.objects.get(id="hourly").next_run_time == ELEVEN


def test_a_successful_run_records_its_real_duration(synced):
    late = ELEVEN + dt.timedelta(minutes=3)  # three minutes late must not count as duration
    [claim] = [c for c in due_runs_claim(now=late, running=set()) if c.job.id == "hourly"]
    DjangoJob.objects.filter(id="slow").update(next_run_time=late)
    [slow] = [c for c in due_runs_claim(now=late, running=set()) if c.job.id == "slow"]
    assert job_execute(claim=claim) == statuses.EXECUTED
    job_execute(claim=slow)
    row = DjangoJobExecution.objects.get(pk=slow.execution_id)
    assert row.status == statuses.EXECUTED
    assert 0.3 <= float(row.duration) < 5


def test_a_failing_run_records_the_exception_and_traceback(synced):
    DjangoJob.objects.filter(id="failing").update(next_run_time=ELEVEN)
    [claim] = [c for c in due_runs_claim(now=ELEVEN, running=set()) if c.job.id == "failing"]
    assert job_execute(claim=claim) == statuses.FAILED
    row = DjangoJobExecution.objects.get(pk=claim.execution_id)
    assert row.exception == "RuntimeError: the source answered 500"
    assert "Traceback" in row.traceback


@pytest.mark.django_db(transaction=True)
def test_the_leader_runs_due_jobs_in_its_tick(synced):
    process = SchedulerProcess(holder="leader-1")
    with time_machine.travel(ELEVEN, tick=False):
        process.tick()
        assert process.join_running(10) == []
    assert synced.CALLS.count("hourly") == 1
    assert executions("hourly")[0].status == statuses.EXECUTED


@pytest.mark.django_db(transaction=True)
def test_a_standby_does_not_run_jobs(synced):
    assert lease_acquire(holder="someone-else", seconds=60)
    process = SchedulerProcess(holder="standby")
    with time_machine.travel(ELEVEN, tick=False):
        process.tick()
    assert not process.is_leading()
    assert executions("hourly") == []


@pytest.mark.django_db(transaction=True)
def test_a_new_leader_marks_runs_left_started_as_interrupted(synced):
    from proletto.scheduling import history

    # Owned by a leader killed with -9: it never beats again.
    history.execution_start(
        job_id="slow", run_time=SYNCED_AT, holder="dead-leader", trigger="scheduled"
    )
    process = SchedulerProcess(holder="new-leader")
    with time_machine.travel(SYNCED_AT, tick=False):
        process.tick()
    assert process.join_running(10) == []
    assert executions("slow")[0].status == statuses.INTERRUPTED


@pytest.mark.django_db(transaction=True)
def test_a_leader_that_lost_its_lease_starts_nothing(synced):
    process = SchedulerProcess(holder="old-leader")
    with time_machine.travel(SYNCED_AT, tick=False):
        process.tick()
        assert process.is_leading()
    # It stalled past its lease (a long GC pause, a frozen VM); another process took over.
    lease_ages(3600)
    with time_machine.travel(ELEVEN, tick=False):
        assert lease_acquire(holder="new-leader", seconds=60)
        process._next_renew_at = 0.0  # its renewal is due
        process.tick()
    assert not process.is_leading()
    assert executions("hourly") == []


@pytest.mark.django_db(transaction=True)
def test_a_new_leader_fails_requests_claimed_by_a_dead_one(synced):
    from proletto.models import RunRequest

    RunRequest.objects.create(
        job_id="hourly",
        requested_by="ops",
        requested_at=SYNCED_AT,
        status=RunRequest.Status.CLAIMED,
        claimed_by="dead-leader",
    )
    process = SchedulerProcess(holder="new-leader")
    with time_machine.travel(SYNCED_AT, tick=False):
        process.tick()
    assert process.join_running(10) == []
    assert RunRequest.objects.get().status == RunRequest.Status.FAILED


def test_an_unreadable_job_state_is_skipped_and_logged_while_the_other_jobs_run(synced, caplog):
    DjangoJob.objects.filter(id="hourly_skip").update(job_state=b'{"trigger": {"type": "yearly"}}')
    with caplog.at_level("ERROR", logger="proletto.scheduling"):
        claims = due_runs_claim(now=ELEVEN, running=set())
    assert [claim.job.id for claim in claims] == ["hourly"]
    [line] = [r.getMessage() for r in caplog.records if "hourly_skip" in r.getMessage()]
    assert "unreadable job state" in line and "KeyError" in line
    assert DjangoJob.objects.get(id="hourly_skip").next_run_time == ELEVEN  # still due


def test_an_unreadable_row_is_logged_once_across_passes_not_at_every_poll(synced, caplog):
    DjangoJob.objects.filter(id="hourly_skip").update(job_state=b"\x00corrupt")
    logged = {}
    with caplog.at_level("ERROR", logger="proletto.scheduling"):
        for minutes in range(3):
            now = ELEVEN + dt.timedelta(minutes=minutes)
            due_runs_claim(now=now, running=set(), unreadable_logged=logged)
    assert sum("hourly_skip" in r.getMessage() for r in caplog.records) == 1
