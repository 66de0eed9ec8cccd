"""The maintenance bot's health checks: each returns results with a status, a value and a
one-line explanation. They only read; storing and alerting are in services.py.

A check that crashes is itself reported as failing (see run_checks), so one broken check
never hides the others.
"""

import datetime as dt
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, Min, Q
from django.utils import timezone
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from billing.selectors import stripe_events_needing_attention
from digests.models import DigestEmail, OpportunitySource
from digests.weeks import week_of
from outreach.models import EmailOutbox
from outreach.selectors import outbox_relay_health
from proletto.models import CheckStatus, InboundEvent
from proletto.scheduling.jobstore import job_state_load
from proletto.scheduling.selectors import scheduler_status
from proletto.scheduling.statuses import INTERRUPTED

OK, WARNING, FAILING = CheckStatus.OK, CheckStatus.WARNING, CheckStatus.FAILING


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str
    value: str
    summary: str


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
    if job.next_run_time is None:
        return CheckResult(name, OK, "paused", f"{job.id} is paused")
    try:
        trigger = job_state_load(job.job_state).trigger
    except Exception as exc:
        return CheckResult(name, FAILING, "-", f"{job.id}: stored job cannot be loaded ({exc})")
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


def check_outbox(now) -> list[CheckResult]:
    Status = EmailOutbox.Status
    oldest_due = EmailOutbox.objects.filter(
        status__in=EmailOutbox.DUE_STATUSES, next_attempt_at__lte=now
    ).aggregate(oldest=Min("next_attempt_at"), count=Count("id"))
    age = (now - oldest_due["oldest"]).total_seconds() if oldest_due["oldest"] else 0.0
    if age >= settings.HEALTH_OUTBOX_BACKLOG_FAILING_SECONDS:
        backlog_status = FAILING
    elif age >= settings.HEALTH_OUTBOX_BACKLOG_WARNING_SECONDS:
        backlog_status = WARNING
    else:
        backlog_status = OK
    day_ago = now - dt.timedelta(days=1)
    day = EmailOutbox.objects.aggregate(
        dead=Count("id", filter=Q(status=Status.DEAD, updated_at__gte=day_ago)),
        sent=Count("id", filter=Q(sent_at__gte=day_ago)),
        bounced=Count("id", filter=Q(bounced_at__gte=day_ago)),
        complained=Count("id", filter=Q(complained_at__gte=day_ago)),
    )
    dead = day["dead"]
    dead_status = (
        OK if dead == 0 else (WARNING if dead < settings.HEALTH_DEAD_EMAILS_FAILING else FAILING)
    )
    bad = day["bounced"] + day["complained"]
    rate = bad / day["sent"] if day["sent"] else 0.0
    if day["sent"] < settings.HEALTH_BOUNCE_MIN_SENT:
        rate_status = OK
    elif rate >= settings.HEALTH_BOUNCE_RATE_FAILING:
        rate_status = FAILING
    elif rate >= settings.HEALTH_BOUNCE_RATE_WARNING:
        rate_status = WARNING
    else:
        rate_status = OK
    return [
        CheckResult(
            "outbox backlog",
            backlog_status,
            f"{age / 60:.0f} min",
            f"{oldest_due['count']} email(s) due; the oldest has waited {age / 60:.0f} min"
            if oldest_due["count"]
            else "no email waiting",
        ),
        CheckResult(
            "dead emails (24 h)",
            dead_status,
            str(dead),
            f"{dead} email(s) gave up in the last day"
            if dead
            else "no email gave up in the last day",
        ),
        CheckResult(
            "bounces and complaints (24 h)",
            rate_status,
            f"{rate:.1%}",
            f"{day['bounced']} bounced, {day['complained']} complained of {day['sent']} sent "
            f"in the last day ({rate:.1%})",
        ),
    ]


# A retry row due this long and still not taken means no relay is sending.
RETRY_NOT_TAKEN_AFTER = dt.timedelta(minutes=5)


def check_outbox_relay(now) -> list[CheckResult]:
    window = dt.timedelta(minutes=settings.HEALTH_ESP_WINDOW_MINUTES)
    health = outbox_relay_health(
        now=now,
        claim_timeout_seconds=settings.EMAIL_CLAIM_TIMEOUT_SECONDS,
        window_start=now - window,
        due_before=now - RETRY_NOT_TAKEN_AFTER,
    )
    stuck = health["stuck_sending"]
    stuck_status = OK if stuck < settings.HEALTH_OUTBOX_STUCK_SENDING_FAILING else FAILING
    due = health["due_retry"]
    if due >= settings.HEALTH_OUTBOX_DUE_RETRY_FAILING:
        due_status = FAILING
    elif due >= settings.HEALTH_OUTBOX_DUE_RETRY_WARNING:
        due_status = WARNING
    else:
        due_status = OK
    outcomes = health["sent"] + health["failed"]
    rate = health["failed"] / outcomes if outcomes else 0.0
    if outcomes < settings.HEALTH_ESP_MIN_SENDS:
        rate_status = OK
    elif rate >= settings.HEALTH_ESP_ERROR_RATE_FAILING:
        rate_status = FAILING
    elif rate >= settings.HEALTH_ESP_ERROR_RATE_WARNING:
        rate_status = WARNING
    else:
        rate_status = OK
    minutes = settings.HEALTH_ESP_WINDOW_MINUTES
    return [
        CheckResult(
            "outbox sending past its claim",
            stuck_status,
            str(stuck),
            f"{stuck} email(s) still `sending` after EMAIL_CLAIM_TIMEOUT_SECONDS (a relay died "
            "or hangs; they go out again when a relay reclaims them)"
            if stuck
            else "no email held past its claim",
        ),
        CheckResult(
            "outbox retries due",
            due_status,
            str(due),
            f"{due} failed email(s) due for a retry for over "
            f"{RETRY_NOT_TAKEN_AFTER.seconds // 60} min and not taken: is a relay running?"
            if due
            else "every due retry was taken",
        ),
        CheckResult(
            f"ESP errors ({minutes} min)",
            rate_status,
            f"{rate:.1%}",
            f"{health['failed']} of {outcomes} sends failed in the last {minutes} min "
            f"({health['ambiguous']} timed out or dropped), {rate:.1%}",
        ),
    ]


def check_digests(now) -> list[CheckResult]:
    week = week_of(now.date()) - dt.timedelta(days=1)  # this week, in every time zone
    counts = (
        DigestEmail.objects.with_delivery()
        .filter(week_start__gte=week)
        .exclude(status=DigestEmail.Status.TEST)
        .aggregate(
            failed=Count("id", filter=Q(delivery=DigestEmail.Delivery.FAILED)),
            total=Count("id"),
        )
    )
    failed, total = counts["failed"], counts["total"]
    share = failed / total if total else 0.0
    if failed == 0:
        status = OK
    elif share >= settings.HEALTH_DIGEST_FAILED_SHARE_FAILING:
        status = FAILING
    else:
        status = WARNING
    return [
        CheckResult(
            "digests failed this week",
            status,
            str(failed),
            f"{failed} of {total} digest(s) this week failed"
            if total
            else "no digest this week yet",
        )
    ]


def check_sources(now) -> list[CheckResult]:
    results = []
    limit = settings.HEALTH_SOURCE_FAILURES_FAILING
    for source in OpportunitySource.objects.filter(enabled=True).order_by("name"):
        name = f"source: {source.name}"
        silent_after = source.fetch_interval * settings.HEALTH_SOURCE_SILENT_INTERVALS
        reference = source.last_success_at or source.created_at
        if source.consecutive_failures >= limit:
            results.append(
                CheckResult(
                    name,
                    FAILING,
                    f"{source.consecutive_failures} failures",
                    f"{source.consecutive_failures} failures in a row: {source.last_error}"[:300],
                )
            )
        elif now - reference > silent_after:
            results.append(
                CheckResult(
                    name,
                    WARNING,
                    f"{(now - reference).total_seconds() / 3600:.0f} h",
                    f"no successful fetch for {(now - reference).total_seconds() / 3600:.0f} h",
                )
            )
        elif source.consecutive_failures:
            results.append(
                CheckResult(
                    name,
                    WARNING,
                    f"{source.consecutive_failures} failures",
                    f"last fetch failed: {source.last_error}"[:300],
                )
            )
        else:
            results.append(CheckResult(name, OK, "ok", "fetched fine"))
    return results


def check_stripe_events(now) -> list[CheckResult]:
    """Stripe events that could not be applied (credits maybe not granted) wait for a person:
    the admin's "Process again" once the cause is fixed."""
    waiting = stripe_events_needing_attention()
    if not waiting["count"]:
        return [CheckResult("stripe events", OK, "0", "no Stripe event needs attention")]
    oldest = waiting["oldest_event"]
    return [
        CheckResult(
            "stripe events",
            FAILING,
            str(waiting["count"]),
            f"{waiting['count']} Stripe event(s) need attention since "
            f"{waiting['oldest']:%Y-%m-%d %H:%M} UTC; {oldest['event_id']}: "
            f"{oldest['outcome'].removeprefix('needs attention: ')}"[:300],
        )
    ]


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


CHECKS = [
    check_database,
    check_scheduler,
    check_jobs,
    check_outbox,
    check_outbox_relay,
    check_digests,
    check_sources,
    check_stripe_events,
    check_disk,
]


def run_checks(now=None) -> list[CheckResult]:
    now = now or timezone.now()
    results = []
    for check in CHECKS:
        try:
            results.extend(check(now))
        except Exception as exc:
            name = check.__name__.removeprefix("check_")
            first_line = (str(exc).splitlines() or [""])[0]
            results.append(
                CheckResult(
                    name,
                    FAILING,
                    "error",
                    f"check crashed: {type(exc).__name__}: {first_line}"[:300],
                )
            )
    return results


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


CHECKS.append(check_inbox)
