"""Writes of the scheduling runtime: job store sync, leadership, claims, runs, run-now, pause.

Exactly-once per fire time holds by three layers: only the lease holder dispatches; a fire
time is claimed by a conditional UPDATE of `DjangoJob.next_run_time` (old value in the WHERE);
and the execution row's unique (job, run_time) is the last line.
"""

import datetime as dt
import logging
import pickle
import time
import traceback
from dataclasses import dataclass
from types import SimpleNamespace

from apscheduler.job import Job
from django.conf import settings
from django.db import DatabaseError, IntegrityError, close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from proletto.models import RunRequest, SchedulerInstance, SchedulerLease
from proletto.scheduling.registry import (
    MissedRunPolicy,
    ScheduledJob,
    SchedulingError,
    declared_jobs,
    effective_trigger,
)

logger = logging.getLogger("proletto.scheduling")

LEASE_NAME = "scheduler"
STARTED = DjangoJobExecution.SENT
EXECUTED = DjangoJobExecution.SUCCESS
FAILED = DjangoJobExecution.ERROR
MISSED = DjangoJobExecution.MISSED
MAX_INSTANCES = DjangoJobExecution.MAX_INSTANCES
INTERRUPTED = "Interrupted"
# Missed fire times recorded for one job in one pass; a long outage of a per-second job
# must not write a million rows.
MAX_MISSED_ROWS = 100

__all__ = [
    "SchedulingError",
    "job_request_run",
    "job_pause",
    "job_resume",
]


# --- job store ---------------------------------------------------------------------------


def job_state_load(job_state: bytes) -> Job:
    job = Job.__new__(Job)
    job.__setstate__(pickle.loads(job_state))
    return job


def _job_state_dump(job: Job) -> bytes:
    return pickle.dumps(job.__getstate__(), pickle.HIGHEST_PROTOCOL)


# Job() only asks its scheduler for a time zone to read next_run_time in; ours is UTC.
_UTC_SCHEDULER = SimpleNamespace(timezone=dt.UTC)


def _store_job(job: ScheduledJob, trigger, next_run_time) -> Job:
    return Job(
        _UTC_SCHEDULER,
        id=job.id,
        func=job.func_ref,
        trigger=trigger,
        executor="default",
        args=(),
        kwargs={},
        name=job.id,
        misfire_grace_time=job.misfire_grace_time,
        coalesce=job.coalesce,
        max_instances=1,
        next_run_time=next_run_time,
    )


def _trigger_key(trigger) -> tuple:
    # An IntervalTrigger built at import time carries that moment as start_date, so two
    # processes never build equal triggers; compare what the schedule means instead.
    return (
        type(trigger).__name__,
        str(trigger),
        str(getattr(trigger, "timezone", "")),
        getattr(trigger, "end_date", None),
        getattr(trigger, "jitter", None),
    )


def jobs_sync(*, now: dt.datetime | None = None) -> dict:
    """Make the job store match the declared jobs (with their schedule overrides).

    A job whose schedule did not change keeps its pending next run time (so a fire time
    missed while no scheduler ran is still due); a paused job stays paused; jobs no longer
    declared are removed with their history.
    """
    now = now or timezone.now()
    declared = declared_jobs()
    triggers = {job_id: effective_trigger(job) for job_id, job in declared.items()}
    counts = {"added": 0, "updated": 0, "kept": 0, "removed": 0}
    with transaction.atomic():
        stale = DjangoJob.objects.exclude(id__in=list(declared))
        counts["removed"] = len(stale.values_list("id", flat=True))
        stale.delete()
        existing = {row.id: row for row in DjangoJob.objects.filter(id__in=list(declared))}
        for job_id, job in declared.items():
            trigger = triggers[job_id]
            row = existing.get(job_id)
            if row is None:
                stored = _store_job(job, trigger, trigger.get_next_fire_time(None, now))
                DjangoJob.objects.create(
                    id=job_id, next_run_time=stored.next_run_time, job_state=_job_state_dump(stored)
                )
                counts["added"] += 1
                continue
            old = job_state_load(row.job_state)
            if _trigger_key(old.trigger) == _trigger_key(trigger):
                trigger, next_run_time = old.trigger, row.next_run_time
                counts["kept"] += 1
            else:
                next_run_time = (
                    None if row.next_run_time is None else trigger.get_next_fire_time(None, now)
                )
                counts["updated"] += 1
            stored = _store_job(job, trigger, next_run_time)
            DjangoJob.objects.filter(id=job_id).update(
                next_run_time=next_run_time, job_state=_job_state_dump(stored)
            )
    return counts


def _job_row(job_id: str, *, for_update: bool = False) -> DjangoJob:
    rows = DjangoJob.objects.select_for_update() if for_update else DjangoJob.objects
    try:
        return rows.get(id=job_id)
    except DjangoJob.DoesNotExist:
        known = ", ".join(DjangoJob.objects.order_by("id").values_list("id", flat=True))
        raise SchedulingError(f"unknown job {job_id!r} (known: {known or 'none'})") from None


def job_pause(*, job_id: str) -> DjangoJob:
    """Pause a job: no scheduled run until resumed (persisted as next_run_time=None)."""
    with transaction.atomic():
        row = _job_row(job_id, for_update=True)
        job = job_state_load(row.job_state)
        job.next_run_time = None
        row.next_run_time = None
        row.job_state = _job_state_dump(job)
        row.save(update_fields=["next_run_time", "job_state"])
    logger.info("job %s paused", job_id)
    return row


def job_resume(*, job_id: str) -> DjangoJob:
    """Resume a paused job from its next fire time after now (runs missed while paused are not
    made up: pausing means 'do not run')."""
    with transaction.atomic():
        row = _job_row(job_id, for_update=True)
        if row.next_run_time is not None:
            return row
        job = job_state_load(row.job_state)
        job.next_run_time = job.trigger.get_next_fire_time(None, timezone.now())
        row.next_run_time = job.next_run_time
        row.job_state = _job_state_dump(job)
        row.save(update_fields=["next_run_time", "job_state"])
    logger.info("job %s resumed, next run %s", job_id, row.next_run_time)
    return row


def job_request_run(*, job_id: str, requested_by: str) -> RunRequest:
    """Ask the leader to run a job now; it picks the request up within SCHEDULER_POLL_SECONDS.

    Raises SchedulingError for an unknown or paused job, or when no scheduler leads (the
    request would only sit there).
    """
    from proletto.scheduling.selectors import scheduler_status

    row = _job_row(job_id)
    if row.next_run_time is None:
        raise SchedulingError(f"job {job_id!r} is paused: resume it first")
    status = scheduler_status(with_jobs=False)
    if not status["alive"]:
        raise SchedulingError(
            "no scheduler is running (no fresh leader heartbeat): start "
            f"`manage.py runapscheduler`, or run it here with `manage.py runjob {job_id}`"
        )
    return RunRequest.objects.create(
        job=row, requested_by=requested_by[:200], requested_at=timezone.now()
    )


# --- leadership --------------------------------------------------------------------------


def lease_acquire(*, holder: str, seconds: float, now: dt.datetime | None = None) -> bool:
    """Take or renew the lease; True if `holder` leads until now + seconds."""
    now = now or timezone.now()
    SchedulerLease.objects.get_or_create(name=LEASE_NAME)
    expires_at = now + dt.timedelta(seconds=seconds)
    renewed = SchedulerLease.objects.filter(name=LEASE_NAME, holder=holder).update(
        expires_at=expires_at, heartbeat_at=now
    )
    if renewed:
        return True
    taken = (
        SchedulerLease.objects.filter(name=LEASE_NAME)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__lt=now))
        .update(holder=holder, acquired_at=now, expires_at=expires_at, heartbeat_at=now)
    )
    return bool(taken)


def lease_release(*, holder: str) -> None:
    SchedulerLease.objects.filter(name=LEASE_NAME, holder=holder).update(holder="", expires_at=None)


def instance_beat(*, holder: str, now: dt.datetime | None = None) -> None:
    """Say this process (leader or standby) is alive; the status page counts the standbys."""
    now = now or timezone.now()
    if not SchedulerInstance.objects.filter(holder=holder).update(seen_at=now):
        SchedulerInstance.objects.bulk_create(
            [SchedulerInstance(holder=holder, started_at=now, seen_at=now)],
            ignore_conflicts=True,
        )


def instance_forget(*, holder: str) -> None:
    SchedulerInstance.objects.filter(holder=holder).delete()


def instances_prune(*, now: dt.datetime | None = None) -> int:
    """Forget processes that died without saying so (kill -9) a day ago or more."""
    now = now or timezone.now()
    deleted, _ = SchedulerInstance.objects.filter(seen_at__lt=now - dt.timedelta(days=1)).delete()
    return deleted


def executions_interrupt(*, reason: str, execution_ids=None, exclude_ids=()) -> int:
    """Mark runs that will never finish (cut off at shutdown, or their process died)."""
    rows = DjangoJobExecution.objects.filter(status=STARTED).exclude(pk__in=list(exclude_ids))
    if execution_ids is not None:
        rows = rows.filter(pk__in=list(execution_ids))
    return rows.update(status=INTERRUPTED, exception=reason[:1000], finished=time.time())


# --- claims ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    job: ScheduledJob
    execution_id: int
    run_request_id: int | None = None


def _execution_start(job_id: str, run_time: dt.datetime) -> int | None:
    try:
        with transaction.atomic():
            return DjangoJobExecution.objects.create(
                job_id=job_id, run_time=run_time, status=STARTED
            ).pk
    except IntegrityError:
        return None  # that fire time already has a run: another process got there first


def due_runs_claim(*, now: dt.datetime, running: set[str]) -> list[Claim]:
    """Claim every due fire time; return the runs to start (missed ones are recorded)."""
    declared = declared_jobs()
    claims = []
    due = DjangoJob.objects.filter(next_run_time__lte=now).values_list(
        "id", "next_run_time", "job_state"
    )
    for job_id, next_run_time, job_state in due:
        # One transaction per job: moving next_run_time on and recording the run (or the
        # miss) stand or fall together, so a database outage mid-claim loses no fire time.
        with transaction.atomic():
            claim = _due_run_claim(
                job_id, next_run_time, job_state, job=declared.get(job_id), now=now, running=running
            )
        if claim is not None:
            claims.append(claim)
    return claims


def _due_run_claim(job_id, next_run_time, job_state, *, job, now, running) -> Claim | None:
    stored = job_state_load(job_state)
    # The column wins over the pickled state: a hand edit of next_run_time is honoured
    # instead of making the scheduler spin on a disagreement.
    stored.next_run_time = next_run_time
    run_times = stored._get_run_times(now) or [next_run_time]
    if job is not None and not job.coalesce:
        on_time = [t for t in run_times if (now - t).total_seconds() <= job.misfire_grace_time]
        if on_time:
            return _catch_up_claim(
                job_id, next_run_time, stored, run_times, on_time, job=job, running=running, now=now
            )
    # The schedule's next fire time strictly after now (not 'last run + interval'), so a
    # hand-edited time does not shift the job off its schedule.
    stored.next_run_time = stored.trigger.get_next_fire_time(
        None, now + dt.timedelta(microseconds=1)
    )
    if not _next_run_time_move(job_id, next_run_time, stored) or job is None:
        return None  # another process got there first, or the job is no longer declared
    latest = run_times[-1]
    late = (now - latest).total_seconds() > job.misfire_grace_time
    if late and job.missed_run_policy == MissedRunPolicy.SKIP:
        _record_missed(job_id, run_times, now=now)
        return None
    if len(run_times) > 1:
        # Coalesced into one fire time: the history still shows every one of them.
        reason = (
            f"missed: no scheduler ran at this time; ran once for {latest.isoformat()}"
            if late
            else f"coalesced with the fire time {latest.isoformat()}"
        )
        _record_missed(job_id, run_times[:-1], now=now, reason=reason)
    if job_id in running:
        _record_missed(job_id, [latest], now=now, status=MAX_INSTANCES)
        return None
    if late:
        logger.warning("job %s missed %d fire time(s); running it once", job_id, len(run_times))
    return _run_claim(job, latest)


def _catch_up_claim(job_id, next_run_time, stored, run_times, on_time, *, job, running, now):
    """coalesce=False: every fire time still within the misfire grace runs, oldest first and
    one at a time (max_instances=1); older ones are recorded as missed."""
    too_late = run_times[: len(run_times) - len(on_time)]
    if job_id in running and not too_late:
        return None  # the fire time waits, still due, for the run in progress to finish
    first = on_time[0]
    if job_id in running:
        stored.next_run_time = first  # only move past the fire times that are too late
    else:
        # On the schedule's grid after this fire time (a hand-edited time does not shift it).
        stored.next_run_time = stored.trigger.get_next_fire_time(
            None, first + dt.timedelta(microseconds=1)
        )
    if not _next_run_time_move(job_id, next_run_time, stored):
        return None
    if too_late:
        _record_missed(job_id, too_late, now=now)
    if job_id in running:
        return None
    return _run_claim(job, first)


def _next_run_time_move(job_id, expected, stored) -> bool:
    """Move the job to `stored.next_run_time` if it still stands at `expected`: of two
    schedulers that read the same fire time, only one moves it on and claims it."""
    return bool(
        DjangoJob.objects.filter(id=job_id, next_run_time=expected).update(
            next_run_time=stored.next_run_time, job_state=_job_state_dump(stored)
        )
    )


def _run_claim(job, run_time) -> Claim | None:
    execution_id = _execution_start(job.id, run_time)
    return Claim(job=job, execution_id=execution_id) if execution_id is not None else None


def _record_missed(job_id, run_times, *, now, status=MISSED, reason=None) -> None:
    recorded = run_times[-MAX_MISSED_ROWS:]
    if reason is None:
        reason = (
            "still running from the previous fire time (max_instances=1)"
            if status == MAX_INSTANCES
            else f"missed: no scheduler ran at this time (noticed at {now.isoformat()})"
        )
    DjangoJobExecution.objects.bulk_create(
        [
            DjangoJobExecution(job_id=job_id, run_time=t, status=status, exception=reason)
            for t in recorded
        ],
        ignore_conflicts=True,
    )
    logger.warning("job %s: %d fire time(s) recorded as %s", job_id, len(run_times), status)


def run_requests_claim(*, holder: str, now: dt.datetime, running: set[str]) -> list[Claim]:
    """Claim pending run-now requests (a job already running waits for its run to end)."""
    declared = declared_jobs()
    claims = []
    pending = RunRequest.objects.filter(status=RunRequest.Status.PENDING).order_by("requested_at")
    for request in pending.select_related("job")[:50]:
        if request.job_id in running:
            continue
        claimed = RunRequest.objects.filter(pk=request.pk, status=RunRequest.Status.PENDING).update(
            status=RunRequest.Status.CLAIMED, claimed_by=holder, claimed_at=now
        )
        if not claimed:
            continue
        job = declared.get(request.job_id)
        if job is None or request.job.next_run_time is None:
            RunRequest.objects.filter(pk=request.pk).update(status=RunRequest.Status.FAILED)
            continue
        run_time = now
        execution_id = None
        while execution_id is None:  # unique (job, run_time): nudge past a same-instant run
            execution_id = _execution_start(job.id, run_time)
            run_time += dt.timedelta(microseconds=1)
        RunRequest.objects.filter(pk=request.pk).update(execution_id=execution_id)
        claims.append(Claim(job=job, execution_id=execution_id, run_request_id=request.pk))
        running.add(job.id)
    return claims


# --- running a job -----------------------------------------------------------------------


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
