from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Min, Q, QuerySet
from django.utils import timezone

from billing.selectors import pro_subscribers
from outreach.models import MARKETING_CATEGORIES, Category, EmailOutbox, Suppression
from proletto.lookups import AnyOf

SUPPRESSED = "address is on the suppression list"
UNSUBSCRIBED = "recipient unsubscribed from marketing email"
ALREADY_PRO = "recipient is already Pro"


def _category_filter(category: str | None) -> Q:
    # A suppression for "all categories" applies whatever the category asked about; one for
    # "all marketing" to every marketing category; an expired one to nothing.
    scopes = [Suppression.ALL_CATEGORIES]
    if category:
        scopes.append(category)
    if category in MARKETING_CATEGORIES:
        scopes.append(Suppression.MARKETING)
    return Q(category__in=scopes) & (Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))


def is_suppressed(address: str, category: str | None = None) -> bool:
    return Suppression.objects.filter(
        _category_filter(category), address=address.strip().lower()
    ).exists()


def suppression_for(address: str, category: str | None = None) -> Suppression | None:
    """The suppression in force for `address` in `category` (the permanent one first)."""
    return (
        Suppression.objects.filter(_category_filter(category), address=address.strip().lower())
        .order_by("-expires_at", "created_at")  # NULL (for good) sorts first descending
        .first()
    )


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
        Suppression.objects.filter(_category_filter(category), AnyOf(F("address"), addresses))
        .values_list("address", flat=True)
        .distinct()
    )


def outbox_refusals(rows: Sequence[EmailOutbox]) -> list[str]:
    """For each row (saved or not), why it must not be sent now, or "" if it may.

    The one consent rule, asked when a row is queued and again by the relay before sending:
    suppressions (in force, for the row's category) for every email; for marketing also the
    user's unsubscribe, and for upsell a user who became Pro. A few queries per call.
    """
    reasons = [""] * len(rows)
    by_category: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        by_category.setdefault(row.category, []).append(index)
    for category, indexes in by_category.items():
        suppressed = suppressed_addresses([rows[i].recipient for i in indexes], category)
        for i in indexes:
            if rows[i].recipient.strip().lower() in suppressed:
                reasons[i] = SUPPRESSED
    marketing = [i for i, row in enumerate(rows) if row.category in MARKETING_CATEGORIES]
    user_ids = {rows[i].user_id for i in marketing if rows[i].user_id and not reasons[i]}
    if user_ids:
        unsubscribed = _unsubscribed_users(user_ids)
        upsell_ids = {rows[i].user_id for i in marketing if rows[i].category == Category.UPSELL}
        pro = _pro_users(upsell_ids & user_ids)
        for i in marketing:
            if reasons[i] or not rows[i].user_id:
                continue
            if rows[i].user_id in unsubscribed:
                reasons[i] = UNSUBSCRIBED
            elif rows[i].category == Category.UPSELL and rows[i].user_id in pro:
                reasons[i] = ALREADY_PRO
    return reasons


def _pro_users(user_ids: set[int]) -> set[int]:
    if not user_ids:
        return set()
    return set(pro_subscribers().filter(pk__in=sorted(user_ids)).values_list("pk", flat=True))


def _unsubscribed_users(user_ids: set[int]) -> set[int]:
    ids = sorted(user_ids)
    found: set[int] = set()
    for start in range(0, len(ids), 500):
        found |= set(
            get_user_model()
            .objects.filter(AnyOf(F("pk"), ids[start : start + 500]), unsubscribed_at__isnull=False)
            .values_list("pk", flat=True)
        )
    return found


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


def outbox_backlog(now=None) -> dict:
    now = now or timezone.now()
    counts = EmailOutbox.objects.aggregate(
        queued=Count("id", filter=Q(status=EmailOutbox.Status.QUEUED)),
        retry=Count("id", filter=Q(status=EmailOutbox.Status.RETRY)),
        sending=Count("id", filter=Q(status=EmailOutbox.Status.SENDING)),
        dead=Count("id", filter=Q(status=EmailOutbox.Status.DEAD)),
        oldest_due=Min(
            "next_attempt_at",
            filter=Q(status__in=EmailOutbox.DUE_STATUSES, next_attempt_at__lte=now),
        ),
    )
    oldest = counts.pop("oldest_due")
    counts["oldest_due_age_seconds"] = (now - oldest).total_seconds() if oldest else 0
    return counts
