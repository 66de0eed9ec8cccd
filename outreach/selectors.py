from collections.abc import Iterable

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
