"""Claims of runs: due fire times (and the ones missed) and run-now requests.

Exactly-once per fire time holds by three layers: only the lease holder dispatches; a fire
time is claimed by a conditional UPDATE of `DjangoJob.next_run_time` (old value in the WHERE);
and the execution row's unique (job, run_time) is the last line.
"""

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from proletto.models import JobRun, RunRequest
from proletto.scheduling.history import execution_start
from proletto.scheduling.registry import MissedRunPolicy, ScheduledJob, declared_jobs
from proletto.scheduling.statuses import MAX_INSTANCES, MISSED
from proletto.scheduling.trigger_spec import UnreadableJobState, stored_trigger
from proletto.scheduling.triggers import fire_times_due

logger = logging.getLogger("proletto.scheduling")

# Missed fire times recorded for one job in one pass; a long outage of a per-second job
# must not write a million rows.
MAX_MISSED_ROWS = 100


@dataclass(frozen=True)
class Claim:
    job: ScheduledJob
    execution_id: int
    run_request_id: int | None = None
    trigger: str = JobRun.Trigger.SCHEDULED  # why it runs (JobRun.Trigger)


def _execution_start(job_id: str, run_time: dt.datetime, **owner) -> int | None:
    try:
        return execution_start(job_id=job_id, run_time=run_time, **owner)
    except IntegrityError:
        return None  # that fire time already has a run: another process got there first


def due_runs_claim(
    *,
    now: dt.datetime,
    running: set[str],
    holder: str = "",
    unreadable_logged: dict[str, str] | None = None,
) -> list[Claim]:
    """Claim every due fire time; return the runs to start (missed ones are recorded).

    A row whose state cannot be read is skipped with one error line naming the job and why:
    it stays due (the next leader's sync writes it anew from the declaration) and every other
    job keeps running. `unreadable_logged` (job id: why, kept by the caller across passes)
    says it once per row and reason instead of at every poll."""
    declared = declared_jobs()
    claims = []
    due = DjangoJob.objects.filter(next_run_time__lte=now).values_list(
        "id", "next_run_time", "job_state"
    )
    for job_id, next_run_time, job_state in due:
        try:
            trigger = stored_trigger(job_id, job_state)
        except UnreadableJobState as exc:
            if unreadable_logged is None or unreadable_logged.get(job_id) != str(exc):
                logger.error("%s; skipped, the other jobs still run", exc)
            if unreadable_logged is not None:
                unreadable_logged[job_id] = str(exc)
            continue
        if unreadable_logged is not None:
            unreadable_logged.pop(job_id, None)
        # One transaction per job: moving next_run_time on and recording the run (or the
        # miss) stand or fall together, so a database outage mid-claim loses no fire time.
        with transaction.atomic():
            claim = _due_run_claim(
                job_id,
                next_run_time,
                trigger,
                job=declared.get(job_id),
                now=now,
                running=running,
                holder=holder,
            )
        if claim is not None:
            claims.append(claim)
    return claims


def _due_run_claim(job_id, next_run_time, trigger, *, job, now, running, holder):
    # From the next_run_time column (a hand edit is honoured) up to now, on the schedule.
    run_times = fire_times_due(trigger, next_run_time, now) or [next_run_time]
    if job is not None and not job.coalesce:
        on_time = [t for t in run_times if (now - t).total_seconds() <= job.misfire_grace_time]
        if on_time:
            return _catch_up_claim(
                job_id,
                next_run_time,
                trigger,
                run_times,
                on_time,
                job=job,
                running=running,
                now=now,
                holder=holder,
            )
    # The schedule's next fire time strictly after now (not 'last run + interval'), so a
    # hand-edited time does not shift the job off its schedule.
    following = trigger.get_next_fire_time(None, now + dt.timedelta(microseconds=1))
    if not _next_run_time_move(job_id, next_run_time, following) or job is None:
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
    trigger = JobRun.Trigger.CAUGHT_UP if late else JobRun.Trigger.SCHEDULED
    return _run_claim(job, latest, holder=holder, trigger=trigger)


def _catch_up_claim(
    job_id, next_run_time, trigger, run_times, on_time, *, job, running, now, holder
):
    """coalesce=False: every fire time still within the misfire grace runs, oldest first and
    one at a time (max_instances=1); older ones are recorded as missed."""
    too_late = run_times[: len(run_times) - len(on_time)]
    if job_id in running and not too_late:
        return None  # the fire time waits, still due, for the run in progress to finish
    first = on_time[0]
    if job_id in running:
        following = first  # only move past the fire times that are too late
    else:
        # On the schedule's grid after this fire time (a hand-edited time does not shift it).
        following = trigger.get_next_fire_time(None, first + dt.timedelta(microseconds=1))
    if not _next_run_time_move(job_id, next_run_time, following):
        return None
    if too_late:
        _record_missed(job_id, too_late, now=now)
    if job_id in running:
        return None
    trigger = JobRun.Trigger.SCHEDULED if first == run_times[-1] else JobRun.Trigger.CAUGHT_UP
    return _run_claim(job, first, holder=holder, trigger=trigger)


def _next_run_time_move(job_id, expected, following) -> bool:
    """Move the job to `following` if it still stands at `expected`: of two schedulers that
    read the same fire time, only one moves it on and claims it."""
    return bool(
        DjangoJob.objects.filter(id=job_id, next_run_time=expected).update(next_run_time=following)
    )


def _run_claim(job, run_time, **owner) -> Claim | None:
    execution_id = _execution_start(job.id, run_time, **owner)
    if execution_id is None:
        return None
    return Claim(job=job, execution_id=execution_id, trigger=owner["trigger"])


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
            execution_id = _execution_start(
                job.id,
                run_time,
                holder=holder,
                trigger=JobRun.Trigger.REQUESTED,
                requested_by=request.requested_by,
            )
            run_time += dt.timedelta(microseconds=1)
        RunRequest.objects.filter(pk=request.pk).update(execution_id=execution_id)
        claims.append(
            Claim(
                job=job,
                execution_id=execution_id,
                run_request_id=request.pk,
                trigger=JobRun.Trigger.REQUESTED,
            )
        )
        running.add(job.id)
    return claims
