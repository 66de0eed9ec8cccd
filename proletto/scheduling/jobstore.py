"""Writes to the job store: sync the declared jobs into it, pause, resume, ask for a run now."""

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone
from django_apscheduler.models import DjangoJob

from proletto.models import RunRequest
from proletto.scheduling.registry import (
    SchedulingError,
    declared_jobs,
    effective_trigger,
)
from proletto.scheduling.trigger_spec import UnreadableJobState, job_state_dump, stored_trigger

logger = logging.getLogger("proletto.scheduling")


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
        for job_id in declared:
            trigger = triggers[job_id]
            row = existing.get(job_id)
            if row is None:
                DjangoJob.objects.create(
                    id=job_id,
                    next_run_time=trigger.get_next_fire_time(None, now),
                    job_state=job_state_dump(trigger),
                )
                counts["added"] += 1
                continue
            try:
                old = stored_trigger(job_id, row.job_state)
            except UnreadableJobState as exc:
                # Corrupt, or written by django-apscheduler's own DjangoJobStore: the
                # declaration is the truth, so the row is written anew from it.
                logger.warning("%s: written anew from its declaration", exc)
                old = None
            if old is not None and _trigger_key(old) == _trigger_key(trigger):
                trigger, next_run_time = old, row.next_run_time
                counts["kept"] += 1
            else:
                next_run_time = (
                    None if row.next_run_time is None else trigger.get_next_fire_time(None, now)
                )
                counts["updated"] += 1
            DjangoJob.objects.filter(id=job_id).update(
                next_run_time=next_run_time, job_state=job_state_dump(trigger)
            )
    return counts


def jobs_missing() -> list[str]:
    """Declared jobs that are not in the job store (deleted by hand): one cheap query."""
    declared = declared_jobs()
    stored = set(DjangoJob.objects.filter(id__in=list(declared)).values_list("id", flat=True))
    return sorted(set(declared) - stored)


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
        row.next_run_time = None
        row.save(update_fields=["next_run_time"])
    logger.info("job %s paused", job_id)
    return row


def job_resume(*, job_id: str) -> DjangoJob:
    """Resume a paused job from its next fire time after now (runs missed while paused are not
    made up: pausing means 'do not run')."""
    with transaction.atomic():
        row = _job_row(job_id, for_update=True)
        if row.next_run_time is not None:
            return row
        trigger = stored_trigger(job_id, row.job_state)
        row.next_run_time = trigger.get_next_fire_time(None, timezone.now())
        row.save(update_fields=["next_run_time"])
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
