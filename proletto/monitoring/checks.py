"""The maintenance bot's health checks: each returns results with a status, a value and a
one-line explanation. They only read; storing and alerting are in services.py.

The core checks what it owns (database, scheduler, jobs, webhook inbox, disk); each app adds
its own in `<app>/health.py` (outreach: the outbox and its relay; digests: this week's
digests and the sources; billing: Stripe events), so the core imports no app.

A check that crashes is itself reported as failing (registry.run_checks), so one broken check
never hides the others.
"""

import datetime as dt
import shutil
import time
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, Min, Q
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from proletto.models import InboundEvent
from proletto.monitoring.results import FAILING, OK, WARNING, CheckResult
from proletto.scheduling.selectors import scheduler_status
from proletto.scheduling.statuses import INTERRUPTED
from proletto.scheduling.trigger_spec import UnreadableJobState, stored_trigger


def check_database(now) -> list[CheckResult]:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    latency_ms = (time.perf_counter() - started) * 1000
    limit = settings.HEALTH_DB_LATENCY_WARNING_MS
    status = OK if latency_ms < limit else WARNING
    return [
        CheckResult(
            "database",
            status,
            f"{latency_ms:.1f} ms",
            f"{connection.vendor} answers in {latency_ms:.1f} ms"
            + ("" if status == OK else f" (over {limit} ms)"),
        )
    ]


def check_scheduler(now) -> list[CheckResult]:
    status = scheduler_status(with_jobs=False)
    age = status["heartbeat_age_seconds"]
    if status["alive"]:
        return [
            CheckResult(
                "scheduler",
                OK,
                f"{age:.0f} s",
                f"leader {status['leader']} alive, heartbeat {age:.0f} s ago",
            )
        ]
    if status["state"] == "never started":
        summary = "no scheduler has ever led: start `manage.py runapscheduler`"
    elif status["state"] == "stopped":
        summary = (
            f"no scheduler is running: the last leader stopped (released its lease) "
            f"{age:.0f} s ago; start `manage.py runapscheduler`"
        )
    else:
        summary = f"no live leader: last heartbeat {age:.0f} s ago from {status['leader']}"
    return [CheckResult("scheduler", FAILING, "-" if age is None else f"{age:.0f} s", summary)]


def expected_runs_since(trigger, since: dt.datetime, now: dt.datetime, limit: int = 3):
    """The fire times of `trigger` after `since` and up to `now` (at most `limit`)."""
    runs, previous = [], None
    fire = trigger.get_next_fire_time(None, since + dt.timedelta(microseconds=1))
    while fire is not None and fire <= now and len(runs) < limit:
        runs.append(fire)
        previous = fire
        fire = trigger.get_next_fire_time(previous, previous + dt.timedelta(microseconds=1))
    return runs


def check_jobs(now) -> list[CheckResult]:
    """Per job: overdue (from its own trigger) and whether its last run failed."""
    grace = dt.timedelta(seconds=settings.HEALTH_JOB_OVERDUE_GRACE_SECONDS)
    jobs = DjangoJob.objects.annotate(
        last_success=Max(
            "djangojobexecution__run_time",
            filter=Q(djangojobexecution__status=DjangoJobExecution.SUCCESS),
        ),
        first_run=Min("djangojobexecution__run_time"),
    ).order_by("id")
    latest = {
        row["job_id"]: row
        for row in DjangoJobExecution.objects.filter(
            pk__in=DjangoJobExecution.objects.values("job_id")
            .annotate(latest=Max("pk"))
            .values("latest")
        ).values("job_id", "status", "exception", "run_time")
    }
    results = []
    for job in jobs:
        results.append(_job_overdue(job, now, grace))
        results.append(_job_last_run(job, latest.get(job.id)))
    return results


def _job_overdue(job, now, grace) -> CheckResult:
    name = f"job overdue: {job.id}"
    try:
        trigger = stored_trigger(job.id, job.job_state)
    except UnreadableJobState as exc:
        # Before "paused": a paused job whose state is unreadable cannot be resumed either.
        return CheckResult(name, FAILING, "unreadable", f"{exc}: the scheduler skips it")
    if job.next_run_time is None:
        return CheckResult(name, OK, "paused", f"{job.id} is paused")
    reference = job.last_success
    if reference is None:
        # Never succeeded: count from the first run we know of, or from the first scheduled
        # time before the pending one (a job just added is not overdue).
        reference = job.first_run or job.next_run_time - grace
    missed = expected_runs_since(trigger, reference, now - grace)
    since_text = f"since {job.last_success:%Y-%m-%d %H:%M} UTC" if job.last_success else "ever"
    if not missed and job.last_success is None and job.first_run is None:
        return CheckResult(
            name,
            OK,
            "never ran",
            f"{job.id} has never run; its first run is due {job.next_run_time:%Y-%m-%d %H:%M} UTC",
        )
    if not missed:
        return CheckResult(name, OK, "on time", f"{job.id} ran on schedule")
    status = WARNING if len(missed) == 1 else FAILING
    late = now - missed[0]
    return CheckResult(
        name,
        status,
        f"{late.total_seconds() / 60:.0f} min",
        f"{job.id} has not succeeded {since_text}; "
        f"{'1 run' if len(missed) == 1 else f'{len(missed)}+ runs'} due since "
        f"{missed[0]:%Y-%m-%d %H:%M} UTC",
    )


def _job_last_run(job, latest) -> CheckResult:
    name = f"job last run: {job.id}"
    if latest is None:
        return CheckResult(name, OK, "never ran", f"{job.id} has never run")
    status_text = latest["status"]
    if status_text == DjangoJobExecution.ERROR:
        error = (latest["exception"] or "").splitlines()[0:1]
        return CheckResult(
            name,
            FAILING,
            status_text,
            f"{job.id} failed at {latest['run_time']:%Y-%m-%d %H:%M} UTC: "
            f"{error[0] if error else 'no message'}"[:300],
        )
    if status_text in (DjangoJobExecution.MISSED, INTERRUPTED):
        return CheckResult(name, WARNING, status_text, f"{job.id}: last run {status_text.lower()}")
    return CheckResult(name, OK, status_text, f"{job.id}: last run {status_text.lower()}")


def data_directory() -> Path:
    """Where the SQLite file lives, or var/ otherwise: the disk the bot watches."""
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        return Path(database["NAME"]).resolve().parent
    return Path(settings.VAR_DIR)


def check_disk(now) -> list[CheckResult]:
    directory = data_directory()
    existing = directory
    while not existing.exists():
        existing = existing.parent
    usage = shutil.disk_usage(existing)
    free = usage.free / usage.total
    if free < settings.HEALTH_DISK_FREE_FAILING:
        status = FAILING
    elif free < settings.HEALTH_DISK_FREE_WARNING:
        status = WARNING
    else:
        status = OK
    return [
        CheckResult(
            "disk space",
            status,
            f"{free:.0%} free",
            f"{usage.free / 2**30:.1f} GiB free of {usage.total / 2**30:.1f} GiB at {directory}",
        )
    ]


def check_inbox(now) -> list[CheckResult]:
    """Webhook events waiting to be applied, and those that failed or wait for a replay."""
    State = InboundEvent.State
    waiting = InboundEvent.objects.filter(
        state__in=[State.PENDING, State.PROCESSING], received_at__lte=now
    ).aggregate(oldest=Min("received_at"), count=Count("id"))
    age = (now - waiting["oldest"]).total_seconds() if waiting["oldest"] else 0.0
    over = [
        status
        for status, limit in (
            (FAILING, settings.HEALTH_INBOX_BACKLOG_FAILING_SECONDS),
            (WARNING, settings.HEALTH_INBOX_BACKLOG_WARNING_SECONDS),
        )
        if age >= limit
    ]
    backlog_status = over[0] if over else OK
    stuck = InboundEvent.objects.aggregate(
        failed=Count("id", filter=Q(state=State.FAILED)),
        held=Count("id", filter=Q(state=State.HELD)),
    )
    stuck_status = FAILING if stuck["held"] else (WARNING if stuck["failed"] else OK)
    return [
        CheckResult(
            "inbox backlog",
            backlog_status,
            f"{age / 60:.0f} min",
            f"{waiting['count']} webhook event(s) waiting; "
            f"the oldest arrived {age / 60:.0f} min ago"
            if waiting["count"]
            else "no webhook event waiting",
        ),
        CheckResult(
            "inbox failures",
            stuck_status,
            f"{stuck['failed']} failed, {stuck['held']} held",
            f"{stuck['held']} webhook event(s) held for a replay, {stuck['failed']} failed "
            "and retrying (admin: Inbound events)"
            if stuck["held"] or stuck["failed"]
            else "no webhook event failed",
        ),
    ]
