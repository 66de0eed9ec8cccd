"""The run history tells the truth: a run's outcome is written even if the database was away
when the job ended, and a "Started" run whose process is gone is closed with the reason.

Each run has a JobRun beside its DjangoJobExecution naming the process that owns it; processes
say they are alive with SchedulerInstance beats (schedulers always, `runjob` while its job
runs). A "Started" run whose owner has not beaten for SCHEDULER_HEARTBEAT_STALE_SECONDS will
never be finished by it: the leader closes it at every poll.
"""

import datetime as dt
import json
import logging
import time

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django_apscheduler.models import DjangoJobExecution

from proletto.bulk import delete_in_batches
from proletto.models import JobRun, RunRequest, SchedulerInstance
from proletto.scheduling.leadership import before_now
from proletto.scheduling.statuses import EXECUTED, INTERRUPTED, STARTED

logger = logging.getLogger("proletto.scheduling")

# The first wait before writing an outcome again; it doubles up to SCHEDULER_POLL_SECONDS, so
# the outcome is written within one poll of the database coming back.
FIRST_RETRY_SECONDS = 0.25


def execution_start(
    *, job_id: str, run_time: dt.datetime, holder: str, trigger: str, requested_by: str = ""
) -> int:
    """Create a run and its owner record together (IntegrityError if the fire time has one)."""
    with transaction.atomic():
        execution = DjangoJobExecution.objects.create(
            job_id=job_id, run_time=run_time, status=STARTED
        )
        JobRun.objects.create(
            execution=execution, holder=holder, trigger=trigger, requested_by=requested_by[:200]
        )
    return execution.pk


def _wait_before_retry(seconds: float) -> None:
    time.sleep(seconds)


def execution_outcome_record(
    *, execution_id: int, run_request_id: int | None, status, duration, error, tb, result
) -> int:
    """Write a finished run's outcome, retrying on a fresh connection until the database
    takes it (the job's work is done; losing its outcome would leave it "Started" forever).
    Returns the number of failed attempts."""
    failures = 0
    wait = FIRST_RETRY_SECONDS
    while True:
        try:
            _outcome_write(execution_id, run_request_id, status, duration, error, tb, result)
            if failures:
                logger.warning(
                    "run %s: outcome %s recorded after %d failed attempt(s)",
                    execution_id,
                    status,
                    failures,
                )
            return failures
        except DatabaseError as exc:
            if connection.in_atomic_block:
                raise  # a caller's transaction (a test) owns the connection
            failures += 1
            if failures == 1:
                logger.error(
                    "run %s finished (%s) but its outcome cannot be recorded yet; retrying: %s",
                    execution_id,
                    status,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                )
            connection.close()
            _wait_before_retry(wait)
            wait = min(wait * 2, float(settings.SCHEDULER_POLL_SECONDS))


def _outcome_write(execution_id, run_request_id, status, duration, error, tb, result) -> None:
    with transaction.atomic():
        # By pk only, whatever the status: a run closed as interrupted while its process was
        # cut off from the database (and taken for dead) gets its real outcome.
        DjangoJobExecution.objects.filter(pk=execution_id).update(
            status=status,
            duration=round(duration, 2),
            finished=time.time(),
            exception=error,
            traceback=tb,
        )
        if isinstance(result, dict):
            JobRun.objects.filter(execution_id=execution_id).update(result=_json_safe(result))
        if run_request_id:
            RunRequest.objects.filter(pk=run_request_id).update(
                status=RunRequest.Status.DONE if status == EXECUTED else RunRequest.Status.FAILED
            )


class _ResultEncoder(DjangoJSONEncoder):
    def default(self, o):
        try:
            return super().default(o)
        except TypeError:
            return str(o)


def _json_safe(result: dict) -> dict:
    # A job may return a date or an object among its counts: the outcome must still be written.
    return json.loads(json.dumps(result, cls=_ResultEncoder))


def live_holders(*, now: dt.datetime | None = None):
    """The processes (schedulers and `runjob`s) that beat recently, as a subquery; on the
    database's clock, as the beats, unless `now` is given."""
    since = before_now(dt.timedelta(seconds=settings.SCHEDULER_HEARTBEAT_STALE_SECONDS), now)
    return SchedulerInstance.objects.filter(seen_at__gte=since).values("holder")


def executions_orphaned(*, now: dt.datetime | None = None, exclude_ids=()):
    """ "Started" runs that no live process owns (runs from before owners were recorded count
    once they are older than a stale heartbeat)."""
    stale = before_now(dt.timedelta(seconds=settings.SCHEDULER_HEARTBEAT_STALE_SECONDS), now)
    return (
        DjangoJobExecution.objects.filter(status=STARTED)
        .exclude(pk__in=list(exclude_ids))
        .exclude(run__holder__in=live_holders(now=now))
        .exclude(run__isnull=True, run_time__gte=stale)
    )


def executions_orphaned_close(*, now: dt.datetime | None = None, exclude_ids=()) -> int:
    """Close every orphaned "Started" run as interrupted, saying which process left it and
    when it was last seen; their run-now requests fail. Returns how many were closed."""
    orphans = list(
        executions_orphaned(now=now, exclude_ids=exclude_ids).values_list("pk", "run__holder")
    )
    if not orphans:
        return 0
    holders = {holder for _, holder in orphans if holder}
    seen = dict(
        SchedulerInstance.objects.filter(holder__in=holders).values_list("holder", "seen_at")
    )
    by_reason: dict[str, list[int]] = {}
    for pk, holder in orphans:
        by_reason.setdefault(_orphan_reason(holder, seen.get(holder)), []).append(pk)
    closed = 0
    for reason, ids in by_reason.items():
        closed += DjangoJobExecution.objects.filter(pk__in=ids, status=STARTED).update(
            status=INTERRUPTED, exception=reason[:1000], finished=time.time()
        )
        logger.warning("%d run(s) closed as interrupted: %s", len(ids), reason)
    RunRequest.objects.filter(
        execution_id__in=[pk for pk, _ in orphans], status=RunRequest.Status.CLAIMED
    ).update(status=RunRequest.Status.FAILED)
    return closed


def _orphan_reason(holder: str | None, seen_at: dt.datetime | None) -> str:
    if not holder:
        return "interrupted: the process running it is unknown and no longer runs it"
    if seen_at is None:
        return (
            f"interrupted: {holder} stopped before it recorded the outcome "
            "(it was killed, or shut down while the database was away)"
        )
    return (
        f"interrupted: {holder} stopped answering (last seen {seen_at:%Y-%m-%d %H:%M:%S} UTC) "
        "before it recorded the outcome"
    )


def job_history_prune(*, now: dt.datetime | None = None, batch_size: int = 1000) -> dict:
    """Delete runs (with their JobRun) and handled run-now requests older than
    JOB_EXECUTION_RETENTION_DAYS, in batches."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.JOB_EXECUTION_RETENTION_DAYS)
    finished = RunRequest.objects.filter(requested_at__lt=cutoff).exclude(
        status__in=[RunRequest.Status.PENDING, RunRequest.Status.CLAIMED]
    )
    return {
        "executions_deleted": delete_in_batches(
            DjangoJobExecution.objects.filter(run_time__lt=cutoff), batch_size
        ),
        "run_requests_deleted": delete_in_batches(finished, batch_size),
    }
