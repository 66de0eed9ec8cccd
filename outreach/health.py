"""What outreach adds to the maintenance bot (discovered by proletto.monitoring.registry):
the outbox's and the relay's checks, the status page's outbox tile, and alerts emailed to
ADMINS through the outbox."""

import datetime as dt

from django.conf import settings
from django.db.models import Count, Min, Q

from outreach.models import Category, EmailOutbox
from outreach.selectors import outbox_backlog, outbox_relay_health
from outreach.services.outbox import outbox_enqueue
from proletto.monitoring.results import FAILING, OK, WARNING, CheckResult, StatusTile, status_for


def check_outbox(now) -> list[CheckResult]:
    Status = EmailOutbox.Status
    oldest_due = EmailOutbox.objects.filter(
        status__in=EmailOutbox.DUE_STATUSES, next_attempt_at__lte=now
    ).aggregate(oldest=Min("next_attempt_at"), count=Count("id"))
    age = (now - oldest_due["oldest"]).total_seconds() if oldest_due["oldest"] else 0.0
    backlog_status = status_for(
        age,
        warning=settings.HEALTH_OUTBOX_BACKLOG_WARNING_SECONDS,
        failing=settings.HEALTH_OUTBOX_BACKLOG_FAILING_SECONDS,
    )
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
    rate_status = (
        OK
        if day["sent"] < settings.HEALTH_BOUNCE_MIN_SENT
        else status_for(
            rate,
            warning=settings.HEALTH_BOUNCE_RATE_WARNING,
            failing=settings.HEALTH_BOUNCE_RATE_FAILING,
        )
    )
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
    due_status = status_for(
        due,
        warning=settings.HEALTH_OUTBOX_DUE_RETRY_WARNING,
        failing=settings.HEALTH_OUTBOX_DUE_RETRY_FAILING,
    )
    outcomes = health["sent"] + health["failed"]
    rate = health["failed"] / outcomes if outcomes else 0.0
    rate_status = (
        OK
        if outcomes < settings.HEALTH_ESP_MIN_SENDS
        else status_for(
            rate,
            warning=settings.HEALTH_ESP_ERROR_RATE_WARNING,
            failing=settings.HEALTH_ESP_ERROR_RATE_FAILING,
        )
    )
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


def outbox_tile(now) -> StatusTile:
    counts = outbox_backlog(now)
    return StatusTile(
        id="outbox",
        title="Outbox",
        headline=f"{counts['queued'] + counts['retry']} waiting",
        details=[
            f"{counts['sending']} sending · {counts['retry']} to retry · {counts['dead']} dead",
            f"oldest due: {counts['oldest_due_age_seconds'] / 60:.0f} min",
        ],
    )


def alert_email_admins(*, alert, context: dict) -> int:
    """One email per address in ADMINS, queued once per alert whatever retries the bot does."""
    for _, address in settings.ADMINS:
        outbox_enqueue(
            recipient=address,
            template="health_alert",
            context=context,
            category=Category.ALERT,
            idempotency_key=f"health-alert:{alert.pk}:{address.lower()}",
        )
    return len(settings.ADMINS)


CHECKS = [check_outbox, check_outbox_relay]
TILES = [outbox_tile]
ALERT_SENDERS = [alert_email_admins]
