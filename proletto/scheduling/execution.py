"""Running a claimed job and recording its outcome; `runjob`; run-now requests left behind."""

import datetime as dt
import logging
import time
import traceback

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from proletto.models import RunRequest
from proletto.scheduling.claims import Claim, _execution_start
from proletto.scheduling.jobstore import jobs_sync
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
    _record_outcome(claim, status=status, duration=duration, error=error, tb=tb)
    if status == EXECUTED:
        logger.info("job %s ok in %.2fs: %s", claim.job.id, duration, result or {})
    else:
        logger.error("job %s failed in %.2fs: %s", claim.job.id, duration, error)
    return status


def _record_outcome(claim: Claim, *, status, duration, error, tb) -> None:
    # The job may have left the connection broken (server restart, killed backend): retry the
    # bookkeeping once on a fresh connection so the run never stays "Started".
    for attempt in (1, 2):
        try:
            # By pk only: a run marked interrupted by a new leader that turns out to finish
            # (a `runjob` process) gets its real outcome.
            DjangoJobExecution.objects.filter(pk=claim.execution_id).update(
                status=status,
                duration=round(duration, 2),
                finished=time.time(),
                exception=error,
                traceback=tb,
            )
            if claim.run_request_id:
                RunRequest.objects.filter(pk=claim.run_request_id).update(
                    status=RunRequest.Status.DONE
                    if status == EXECUTED
                    else RunRequest.Status.FAILED
                )
            break
        except DatabaseError:
            if connection.in_atomic_block or attempt == 2:
                raise
            connection.close()
    _close_stale_connections()


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
    if DjangoJobExecution.objects.filter(job_id=job_id, status=STARTED).exists():
        raise SchedulingError(f"job {job_id!r} is running right now (max_instances=1)")
    run_time = timezone.now()
    execution_id = None
    while execution_id is None:
        execution_id = _execution_start(job_id, run_time)
        run_time += dt.timedelta(microseconds=1)
    claim = Claim(job=job, execution_id=execution_id)
    return execution_id, job_execute(claim=claim)


def run_requests_orphaned_fail(*, holder: str) -> int:
    """Requests claimed by a scheduler that died: their run was marked interrupted."""
    return (
        RunRequest.objects.filter(status=RunRequest.Status.CLAIMED)
        .exclude(claimed_by=holder)
        .update(status=RunRequest.Status.FAILED)
    )


def run_requests_prune(*, now: dt.datetime | None = None) -> int:
    """Delete handled run-now requests past the history retention period."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.JOB_EXECUTION_RETENTION_DAYS)
    deleted, _ = (
        RunRequest.objects.filter(requested_at__lt=cutoff)
        .exclude(status__in=[RunRequest.Status.PENDING, RunRequest.Status.CLAIMED])
        .delete()
    )
    return deleted
