"""Tracking of sent digests: opens, clicks and unsubscribes."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from digests.errors import DigestsError
from digests.models import DigestEmail, DigestItem
from outreach.models import MARKETING_CATEGORIES, EmailOutbox, Suppression
from outreach.services.events import outbox_record_engagement, suppression_add


def digest_record_open(*, digest_id: int, at=None) -> None:
    """The open pixel was loaded: the first open counts (on the digest's outbox row, where
    the ESP's opens go too)."""
    outbox_id = DigestEmail.objects.filter(pk=digest_id).values_list("outbox_id", flat=True).first()
    if outbox_id is not None:
        outbox_record_engagement(outbox_id=outbox_id, event_type="opened", at=at or timezone.now())


def digest_record_click(*, digest_id: int, opportunity_id: int, at=None) -> str:
    """A tracked link was followed: record it and return the opportunity's own URL.

    Only an opportunity that this digest carried can be the target, so the redirect can never
    point anywhere the digest did not.
    """
    at = at or timezone.now()
    item = (
        DigestItem.objects.select_related("opportunity", "digest")
        .filter(digest_id=digest_id, opportunity_id=opportunity_id)
        .first()
    )
    if item is None:
        raise DigestsError("this link does not belong to a digest we sent")
    DigestItem.objects.filter(pk=item.pk, clicked_at__isnull=True).update(clicked_at=at)
    if item.digest.outbox_id is not None:
        outbox_record_engagement(outbox_id=item.digest.outbox_id, event_type="clicked", at=at)
        # A click implies the email was opened, even when images were blocked.
        outbox_record_engagement(outbox_id=item.digest.outbox_id, event_type="opened", at=at)
    return item.opportunity.url


def digest_unsubscribe(*, user_id: int, at=None) -> bool:
    """Stop all marketing email (the digest, upsell, any later category) to this user at
    once; True if they were subscribed until now. Transactional email still goes out."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        raise DigestsError("this unsubscribe link names no account")
    with transaction.atomic():
        changed = (
            get_user_model()
            .objects.filter(pk=user_id, unsubscribed_at__isnull=True)
            .update(unsubscribed_at=at or timezone.now())
        )
        if user.email:
            suppression_add(
                address=user.email,
                reason="unsubscribed (one-click or the unsubscribe page)",
                category=Suppression.MARKETING,
            )
        # Marketing queued but not sent yet is not sent after an unsubscribe.
        EmailOutbox.objects.filter(
            user_id=user_id,
            category__in=MARKETING_CATEGORIES,
            status__in=EmailOutbox.DUE_STATUSES,
        ).update(
            status=EmailOutbox.Status.CANCELLED,
            next_attempt_at=None,
            last_error="recipient unsubscribed",
            updated_at=timezone.now(),
        )
    return bool(changed)
