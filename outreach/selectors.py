from collections.abc import Iterable
from datetime import timedelta

from django.db.models import Q, QuerySet

from outreach.models import EmailOutbox, Suppression


def _category_filter(category: str | None) -> Q:
    # A suppression for "all categories" applies whatever the category asked about.
    if category:
        return Q(category=Suppression.ALL_CATEGORIES) | Q(category=category)
    return Q(category=Suppression.ALL_CATEGORIES)


def is_suppressed(address: str, category: str | None = None) -> bool:
    return Suppression.objects.filter(
        _category_filter(category), address=address.strip().lower()
    ).exists()


def suppressed_addresses(addresses: Iterable[str], category: str | None = None) -> set[str]:
    """The lower-cased addresses among `addresses` that must not get `category` mail."""
    wanted = {address.strip().lower() for address in addresses}
    found: set[str] = set()
    chunk: list[str] = []
    # Bounded IN lists: the digest asks about thousands of addresses at once.
    for address in sorted(wanted):
        chunk.append(address)
        if len(chunk) == 500:
            found |= _suppressed_chunk(chunk, category)
            chunk = []
    if chunk:
        found |= _suppressed_chunk(chunk, category)
    return found


def _suppressed_chunk(addresses: list[str], category: str | None) -> set[str]:
    return set(
        Suppression.objects.filter(_category_filter(category), address__in=addresses)
        .values_list("address", flat=True)
        .distinct()
    )


def outbox_due(*, now) -> QuerySet:
    """Rows the relay should send now, in the order it sends them."""
    return EmailOutbox.objects.filter(
        status__in=EmailOutbox.DUE_STATUSES, next_attempt_at__lte=now
    ).order_by("-priority", "next_attempt_at", "id")


def outbox_relay_health(*, now, claim_timeout_seconds: float, window_start, due_before) -> dict:
    """What the relay health checks judge, each from a partial or status index: rows in
    `sending` past their claim, retry rows due before `due_before` and not taken, and the
    ESP's outcomes since `window_start` (sent, failed, ambiguous)."""
    Status = EmailOutbox.Status
    since = Q(updated_at__gte=window_start)
    failures = EmailOutbox.objects.filter(since, status__in=[Status.RETRY, Status.DEAD]).exclude(
        last_error=""
    )
    return {
        "stuck_sending": EmailOutbox.objects.filter(
            status=Status.SENDING,
            claimed_at__lt=now - timedelta(seconds=claim_timeout_seconds),
        ).count(),
        "due_retry": EmailOutbox.objects.filter(
            status=Status.RETRY, next_attempt_at__lte=due_before
        ).count(),
        "sent": EmailOutbox.objects.filter(status=Status.SENT, sent_at__gte=window_start).count(),
        "failed": failures.count(),
        "ambiguous": failures.filter(last_error__contains="ambiguous").count(),
    }
