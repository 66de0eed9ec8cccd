"""Running a claimed job and recording its outcome; `runjob`; run-now requests left behind."""

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import time
import traceback
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from proletto.models import JobRun, RunRequest, SchedulerInstance
from proletto.scheduling.claims import Claim, _execution_start
from proletto.scheduling.history import execution_outcome_record, executions_orphaned_close
from proletto.scheduling.jobstore import jobs_sync
from proletto.scheduling.leadership import instance_beat, instance_forget
from proletto.scheduling.registry import SchedulingError, declared_jobs
from proletto.scheduling.statuses import EXECUTED, FAILED, STARTED

logger = logging.getLogger("proletto.scheduling")
# One line per run, with structured fields (LOG_FORMAT=json shows them as keys).
run_logger = logging.getLogger("proletto.scheduling.runs")


def _close_stale_connections() -> None:
    # Inside a caller's transaction (a test, a web request) closing would break the caller.
    if not connection.in_atomic_block:
        close_old_connections()


@dataclass(frozen=True)
class RunOutcome:
    job_id: str
    execution_id: int
    trigger: str
    status: str
    duration: float
    counts: dict
    error: str | None = None

    def summary(self) -> str:
        """The run in one line: the runtime's log line and what `runjob` prints."""
        counts = " ".join(f"{key}={value}" for key, value in self.counts.items())
        ran = self.status == EXECUTED
        said = (counts or "nothing to count") if ran else self.error
        return (
            f"job {self.job_id} {'ran' if ran else 'failed'} in {self.duration:.2f}s "
            f"(execution {self.execution_id}, {self.trigger}): {said}"
        )


def job_execute(*, claim: Claim, log: bool = True) -> str:
    """Run one claimed job, record its outcome and counts, and log one line; returns the
    final status."""
    return job_run(claim=claim, log=log).status


def job_run(*, claim: Claim, log: bool = True) -> RunOutcome:
    """Run one claimed job and record the outcome and the counts it returned on the run.

    A job returns its counts (a dict, or None for nothing to count); stale connections are
    closed before and after; the duration is real (start to finish). One log line per run,
    with the job, execution, trigger, counts and duration as structured fields.
    """
    _close_stale_connections()
    started = time.monotonic()
    error = tb = None
    counts = {}
    try:
        counts = claim.job.func()
        if counts is None:
            counts = {}
        elif not isinstance(counts, dict):
            raise TypeError(
                f"job {claim.job.id} returned {type(counts).__name__}: a job returns its counts "
                "as a dict"
            )
        status = EXECUTED
    except Exception as exc:
        status = FAILED
        error = f"{type(exc).__name__}: {exc}"[:1000]
        tb = traceback.format_exc()
    duration = time.monotonic() - started
    execution_outcome_record(
        execution_id=claim.execution_id,
        run_request_id=claim.run_request_id,
        status=status,
        duration=duration,
        error=error,
        tb=tb,
        result=counts if status == EXECUTED else None,
    )
    _close_stale_connections()
    outcome = RunOutcome(
        job_id=claim.job.id,
        execution_id=claim.execution_id,
        trigger=str(claim.trigger),
        status=status,
        duration=duration,
        counts=counts if status == EXECUTED else {},
        error=error,
    )
    if log:
        run_logger.log(
            logging.INFO if status == EXECUTED else logging.ERROR,
            outcome.summary(),
            extra={
                "job_id": outcome.job_id,
                "execution_id": outcome.execution_id,
                "trigger": outcome.trigger,
                "status": outcome.status,
                "duration_seconds": round(outcome.duration, 3),
                "counts": outcome.counts,
            },
        )
    return outcome


def job_run_here(*, job_id: str) -> RunOutcome:
    """`manage.py runjob`: run a job in this process, recorded in the same history; the
    caller reports the outcome (no log line of its own)."""
    declared = declared_jobs()
    job = declared.get(job_id)
    if job is None:
        raise SchedulingError(
            f"unknown job {job_id!r} (known: {', '.join(sorted(declared)) or 'none'})"
        )
    if not DjangoJob.objects.filter(id=job_id).exists():
        jobs_sync()  # no scheduler has stored it yet: the history needs its row
    if DjangoJob.objects.get(id=job_id).next_run_time is None:
        raise SchedulingError(f"job {job_id!r} is paused: resume it first")
    # A run left "Started" by a process that is gone does not block this one: close it first.
    executions_orphaned_close()
    if DjangoJobExecution.objects.filter(job_id=job_id, status=STARTED).exists():
        raise SchedulingError(f"job {job_id!r} is running right now (max_instances=1)")
    holder = f"runjob {socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    instance_beat(holder=holder, kind=SchedulerInstance.Kind.RUNJOB)
    try:
        run_time = timezone.now()
        execution_id = None
        while execution_id is None:
            execution_id = _execution_start(
                job_id, run_time, holder=holder, trigger=JobRun.Trigger.COMMAND
            )
            run_time += dt.timedelta(microseconds=1)
        claim = Claim(job=job, execution_id=execution_id, trigger=JobRun.Trigger.COMMAND)
        with _beating(holder):
            return job_run(claim=claim, log=False)
    finally:
        instance_forget(holder=holder)


@contextlib.contextmanager
def _beating(holder: str):
    """Beat for a `runjob` process while its job runs, so no leader takes its run for an
    orphan (the beats use their own connection, in their own thread)."""
    done = threading.Event()
    interval = float(settings.SCHEDULER_LEASE_SECONDS) / 3

    def beat():
        while not done.wait(interval):
            try:
                instance_beat(holder=holder, kind=SchedulerInstance.Kind.RUNJOB)
            except DatabaseError as exc:
                logger.warning("runjob heartbeat failed (retrying): %s", exc)
            finally:
                connection.close()

    thread = threading.Thread(target=beat, name="runjob-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def run_requests_orphaned_fail(*, holder: str) -> int:
    """Requests claimed by a scheduler that died: their run was marked interrupted."""
    return (
        RunRequest.objects.filter(status=RunRequest.Status.CLAIMED)
        .exclude(claimed_by=holder)
        .update(status=RunRequest.Status.FAILED)
    )
