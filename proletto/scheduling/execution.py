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


def _close_stale_connections() -> None:
    # Inside a caller's transaction (a test, a web request) closing would break the caller.
    if not connection.in_atomic_block:
        close_old_connections()


def job_execute(*, claim: Claim) -> str:
    """Run one claimed job and record the outcome; returns the final status.

    Stale connections are closed before and after; the duration is real (start to finish).
    """
    _close_stale_connections()
    started = time.monotonic()
    error = tb = None
    result = None
    try:
        result = claim.job.func()
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
        result=result,
    )
    _close_stale_connections()
    if status == EXECUTED:
        logger.info("job %s ok in %.2fs: %s", claim.job.id, duration, result or {})
    else:
        logger.error("job %s failed in %.2fs: %s", claim.job.id, duration, error)
    return status


def job_run_here(*, job_id: str) -> tuple[int, str]:
    """`manage.py runjob`: run a job in this process, recorded in the same history."""
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
        claim = Claim(job=job, execution_id=execution_id)
        with _beating(holder):
            return execution_id, job_execute(claim=claim)
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
