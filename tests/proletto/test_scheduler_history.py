"""The run history tells the truth: runs whose process is gone are closed with the reason,
runs of live processes are left alone, `runjob` is not blocked by a dead row, and a job
deleted from the store comes back within a poll."""

import datetime as dt
import logging
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from proletto.models import JobRun, RunRequest, SchedulerInstance
from proletto.scheduling import history, statuses
from proletto.scheduling.jobstore import jobs_sync
from proletto.scheduling.leadership import instance_beat
from proletto.scheduling.runtime import SchedulerProcess

pytestmark = pytest.mark.django_db
SYNCED_AT = dt.datetime(2026, 3, 2, 10, 20, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 3, 2, 10, 30, tzinfo=dt.UTC)


@pytest.fixture
def synced(scheduler_jobs_declared):
    jobs_sync(now=SYNCED_AT)
    return scheduler_jobs_declared


def started_run(job_id="slow", *, holder, seen_at=None, run_time=SYNCED_AT):
    if seen_at is not None:
        SchedulerInstance.objects.create(holder=holder, started_at=SYNCED_AT, seen_at=seen_at)
    return history.execution_start(
        job_id=job_id, run_time=run_time, holder=holder, trigger=JobRun.Trigger.SCHEDULED
    )


def test_a_run_whose_process_stopped_beating_is_closed_saying_when_it_was_last_seen(synced):
    pk = started_run(holder="host:1:aa", seen_at=NOW - dt.timedelta(minutes=5))
    assert history.executions_orphaned_close(now=NOW) == 1
    row = DjangoJobExecution.objects.get(pk=pk)
    assert row.status == statuses.INTERRUPTED
    assert "host:1:aa stopped answering (last seen 2026-03-02 10:25:00 UTC)" in row.exception


def test_a_run_whose_process_is_gone_is_closed_saying_so(synced):
    pk = started_run(holder="host:2:bb")
    history.executions_orphaned_close(now=NOW)
    row = DjangoJobExecution.objects.get(pk=pk)
    assert row.status == statuses.INTERRUPTED
    assert "host:2:bb stopped before it recorded the outcome" in row.exception


def test_a_run_of_a_live_process_is_left_alone(synced):
    pk = started_run(holder="host:3:cc", seen_at=NOW - dt.timedelta(seconds=1))
    assert history.executions_orphaned_close(now=NOW) == 0
    assert DjangoJobExecution.objects.get(pk=pk).status == statuses.STARTED


def test_the_run_now_request_of_a_closed_run_fails(synced):
    pk = started_run(holder="host:4:dd")
    request = RunRequest.objects.create(
        job_id="slow",
        requested_by="ops",
        requested_at=SYNCED_AT,
        status=RunRequest.Status.CLAIMED,
        claimed_by="host:4:dd",
        execution_id=pk,
    )
    history.executions_orphaned_close(now=NOW)
    request.refresh_from_db()
    assert request.status == RunRequest.Status.FAILED


def test_a_closed_run_that_finishes_after_all_gets_its_real_outcome(synced):
    pk = started_run(holder="host:5:ee")
    history.executions_orphaned_close(now=NOW)
    history.execution_outcome_record(
        execution_id=pk,
        run_request_id=None,
        status=statuses.EXECUTED,
        duration=1.5,
        error=None,
        tb=None,
        result={"sent": 3},
    )
    row = DjangoJobExecution.objects.get(pk=pk)
    assert (row.status, row.exception) == (statuses.EXECUTED, None)
    assert JobRun.objects.get(pk=pk).result == {"sent": 3}


def test_runjob_is_not_blocked_by_a_run_whose_process_is_gone(synced):
    dead = started_run("hourly", holder="host:6:ff")
    out = StringIO()
    call_command("runjob", "hourly", stdout=out)
    assert "ran" in out.getvalue()
    assert DjangoJobExecution.objects.get(pk=dead).status == statuses.INTERRUPTED


def test_runjob_refuses_while_a_live_process_runs_the_job(synced):
    started_run("hourly", holder="host:7:gg", seen_at=dt.datetime.now(dt.UTC))
    with pytest.raises(CommandError, match="running right now"):
        call_command("runjob", "hourly", stdout=StringIO())


def test_runjob_records_who_ran_it_and_what_the_job_returned(synced):
    call_command("runjob", "hourly", stdout=StringIO())
    run = JobRun.objects.get()
    assert run.trigger == JobRun.Trigger.COMMAND
    assert run.holder.startswith("runjob ")
    assert run.result == {"done": 1}
    assert not SchedulerInstance.objects.exists()  # it forgot itself when done


@pytest.mark.django_db(transaction=True)
def test_the_leader_closes_orphaned_runs_at_every_poll_not_only_when_it_takes_over(synced):
    process = SchedulerProcess(holder="leader")
    with time_machine.travel(SYNCED_AT, tick=False):
        process.tick()  # leads from here on
    pk = started_run(holder="killed-runjob")
    process._next_housekeeping_at = 0.0  # a poll later
    with time_machine.travel(SYNCED_AT + dt.timedelta(seconds=process.poll_seconds), tick=False):
        process.tick()
    assert process.join_running(10) == []
    assert DjangoJobExecution.objects.get(pk=pk).status == statuses.INTERRUPTED


@pytest.mark.django_db(transaction=True)
def test_the_leader_puts_back_a_declared_job_deleted_from_the_store_and_logs_it(synced, caplog):
    process = SchedulerProcess(holder="leader")
    with time_machine.travel(SYNCED_AT, tick=False):
        process.tick()
    DjangoJob.objects.filter(id="hourly").delete()
    process._next_housekeeping_at = 0.0  # a poll later
    with (
        caplog.at_level(logging.WARNING, logger="proletto.scheduling"),
        time_machine.travel(SYNCED_AT + dt.timedelta(seconds=process.poll_seconds), tick=False),
    ):
        process.tick()
    assert process.join_running(10) == []
    assert DjangoJob.objects.filter(id="hourly").exists()
    assert "declared job(s) hourly were missing from the job store" in caplog.text


def test_the_outage_backoff_never_exceeds_one_poll(settings):
    settings.SCHEDULER_POLL_SECONDS = 2
    process = SchedulerProcess(holder="x")
    waits = []

    def unreachable():
        from django.db import OperationalError

        if len(waits) >= 8:
            process.stopping.set()
        raise OperationalError("connection refused")

    process.tick = unreachable
    process.stopping.wait = lambda timeout: waits.append(timeout)
    process.shutdown = lambda: None
    process.run()
    assert max(waits) == 2


def test_a_run_on_time_records_its_owner_and_that_it_was_scheduled(synced):
    from proletto.scheduling.claims import due_runs_claim

    eleven = dt.datetime(2026, 3, 2, 11, 0, tzinfo=dt.UTC)
    [claim, _] = due_runs_claim(now=eleven, running=set(), holder="host:8:hh")
    run = JobRun.objects.get(pk=claim.execution_id)
    assert (run.holder, run.trigger) == ("host:8:hh", JobRun.Trigger.SCHEDULED)


def test_a_run_made_up_after_downtime_is_recorded_as_caught_up(synced):
    from proletto.scheduling.claims import due_runs_claim

    much_later = dt.datetime(2026, 3, 2, 15, 10, tzinfo=dt.UTC)
    claims = due_runs_claim(now=much_later, running=set(), holder="host:9:ii")
    [claim] = [c for c in claims if c.job.id == "hourly"]
    assert JobRun.objects.get(pk=claim.execution_id).trigger == JobRun.Trigger.CAUGHT_UP


def test_a_requested_run_records_who_asked(synced):
    from proletto.scheduling.claims import run_requests_claim

    RunRequest.objects.create(job_id="hourly", requested_by="ops@proletto.test", requested_at=NOW)
    [claim] = run_requests_claim(holder="host:10:jj", now=NOW, running=set())
    run = JobRun.objects.get(pk=claim.execution_id)
    assert (run.trigger, run.requested_by) == (JobRun.Trigger.REQUESTED, "ops@proletto.test")


def test_an_outcome_is_written_even_if_the_job_returned_values_json_cannot_hold(synced):
    pk = started_run(holder="host:11:kk")
    history.execution_outcome_record(
        execution_id=pk,
        run_request_id=None,
        status=statuses.EXECUTED,
        duration=0.1,
        error=None,
        tb=None,
        result={"since": NOW, "source": object()},
    )
    assert DjangoJobExecution.objects.get(pk=pk).status == statuses.EXECUTED
    assert JobRun.objects.get(pk=pk).result["since"] == "2026-03-02T10:30:00Z"


def test_a_live_process_on_a_host_whose_clock_is_behind_is_not_taken_for_gone(synced):
    # Beats are on the database's clock: the host's 10 minutes of lag do not show.
    with time_machine.travel(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10), tick=False):
        instance_beat(holder="host:8:hh")
    pk = started_run(holder="host:8:hh")
    assert history.executions_orphaned_close() == 0
    assert DjangoJobExecution.objects.get(pk=pk).status == statuses.STARTED
