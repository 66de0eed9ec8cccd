"""Tracking of sent digests: opens, clicks, "more like this" / "not for me", unsubscribes."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from digests.errors import DigestsError
from digests.models import DigestEmail, DigestItem
from digests.scanners import BURST_LINKS, BURST_SECONDS
from outreach.models import MARKETING_CATEGORIES, EmailOutbox, Suppression
from outreach.services.events import (
    outbox_record_engagement,
    outbox_take_back_engagement,
    suppression_add,
)


def digest_record_open(*, digest_id: int, at=None) -> None:
    """The open pixel was loaded: the first open counts (on the digest's outbox row, where
    the ESP's opens go too)."""
    outbox_id = DigestEmail.objects.filter(pk=digest_id).values_list("outbox_id", flat=True).first()
    if outbox_id is not None:
        outbox_record_engagement(outbox_id=outbox_id, event_type="opened", at=at or timezone.now())


def digest_record_click(
    *, digest_id: int, opportunity_id: int, at=None, scanner: str | None = None
) -> str:
    """A tracked link was followed: record it and return the opportunity's own URL.

    Only an opportunity that this digest carried can be the target, so the redirect can never
    point anywhere the digest did not. A link scanner's visit (`scanner`: why the request
    says so, digests.scanners; or a burst of links) is redirected but not recorded.
    """
    at = at or timezone.now()
    item = _digest_item(digest_id=digest_id, opportunity_id=opportunity_id)
    with transaction.atomic():
        if scanner is None and not _followed_in_burst(item, at=at, counts=True):
            DigestItem.objects.filter(pk=item.pk, clicked_at__isnull=True).update(clicked_at=at)
            _record_engagement(item, "clicked", at=at)
    return item.opportunity.url


def digest_record_feedback(
    *, digest_id: int, opportunity_id: int, signal: str, at=None, scanner: str | None = None
) -> DigestItem:
    """The artist followed a card's "more like this" or "not for me" link: the latest answer
    counts, and the same answer twice changes nothing. A scanner's visit records nothing.

    An artist answers a card once, and may answer several cards within seconds: that is no
    burst. A scanner follows every link, so both answers of a card within seconds: only that
    makes an answer count toward a burst (and a burst of the card links takes answers back)."""
    if signal not in DigestItem.Feedback.values:
        raise DigestsError(f"unknown answer {signal!r}: more or less")
    at = at or timezone.now()
    item = _digest_item(digest_id=digest_id, opportunity_id=opportunity_id)
    with transaction.atomic():
        if scanner is None and not _followed_in_burst(
            item, at=at, counts=_both_answers_followed(item, signal=signal, at=at)
        ):
            DigestItem.objects.filter(pk=item.pk).exclude(feedback=signal).update(
                feedback=signal, feedback_at=at
            )
            _record_engagement(item, "opened", at=at)
    return item


def _digest_item(*, digest_id: int, opportunity_id: int) -> DigestItem:
    item = (
        DigestItem.objects.select_related("opportunity", "digest")
        .filter(digest_id=digest_id, opportunity_id=opportunity_id)
        .first()
    )
    if item is None:
        raise DigestsError("this link does not belong to a digest we sent")
    return item


def _record_engagement(item: DigestItem, event_type: str, *, at) -> None:
    """On the digest's outbox row, where the ESP's opens and clicks go too. A click or an
    answer implies the email was opened, even when images were blocked."""
    outbox_id = item.digest.outbox_id
    if outbox_id is None:
        return
    if event_type == "clicked":
        outbox_record_engagement(outbox_id=outbox_id, event_type="clicked", at=at)
    outbox_record_engagement(outbox_id=outbox_id, event_type="opened", at=at)


def _lock_digest(digest_id: int) -> None:
    # A scanner's parallel requests are then counted one after the other (each sees the
    # others' visits, clicks and answers) instead of each seeing only its own.
    list(DigestEmail.objects.select_for_update().filter(pk=digest_id).values_list("pk"))


def _both_answers_followed(item: DigestItem, *, signal: str, at) -> bool:
    """True if the card's other answer was recorded within seconds: a scanner following
    every link, not an artist (who answers once, or changes their mind later)."""
    _lock_digest(item.digest_id)
    return (
        DigestItem.objects.filter(
            pk=item.pk, feedback_at__gte=at - timedelta(seconds=BURST_SECONDS)
        )
        .exclude(feedback__in=["", signal])
        .exists()
    )


def _followed_in_burst(item: DigestItem, *, at, counts: bool) -> bool:
    """Record a visit of one of `item`'s links (`counts`: whether it makes the item count
    toward a burst); True if several items of the digest were followed within seconds: a
    scanner, whose earlier clicks and answers within those seconds are taken back too (they
    looked like the artist's until the burst showed).

    Called in the caller's transaction, which records the visit, with the digest's row
    locked first."""
    window = at - timedelta(seconds=BURST_SECONDS)
    _lock_digest(item.digest_id)
    if counts:
        DigestItem.objects.filter(pk=item.pk).update(followed_at=at)
    # No upper bound: a visit stamped later may have taken the lock first.
    burst = DigestItem.objects.filter(digest_id=item.digest_id, followed_at__gte=window)
    if burst.count() < BURST_LINKS:
        return False
    items = DigestItem.objects.filter(digest_id=item.digest_id)
    items.filter(clicked_at__gte=window).update(clicked_at=None)
    # Every card's: a scanner's first answer on a card made it count toward no burst.
    items.filter(feedback_at__gte=window).update(feedback="", feedback_at=None)
    clicked = DigestItem.objects.filter(digest_id=item.digest_id, clicked_at__isnull=False)
    if item.digest.outbox_id is not None and not clicked.exists():
        # The burst's visits had marked the email clicked and opened: neither was the artist.
        outbox_take_back_engagement(outbox_id=item.digest.outbox_id, since=window)
    return True


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
