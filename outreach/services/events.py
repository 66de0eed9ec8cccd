"""Suppressions and ESP delivery events (delivered, bounced, complained, opened, clicked)."""

import hashlib
import logging
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from outreach.errors import OutboxError
from outreach.models import Category, EmailEvent, EmailOutbox, Suppression
from outreach.services.outbox import _clean_address

logger = logging.getLogger(__name__)


def suppression_add(
    *,
    address: str,
    reason: str,
    category: str | None = None,
    expires_at: datetime | None = None,
) -> Suppression:
    """Never email `address` again (in `category`, "marketing", or at all), or not before
    `expires_at`. A permanent suppression is never shortened; an expired one is renewed."""
    address = _clean_address(address).lower()
    scopes = [*Category.values, Suppression.MARKETING]
    if category is not None and category not in scopes:
        raise OutboxError(f"unknown email category {category!r}: use one of {', '.join(scopes)}")
    with transaction.atomic():
        suppression, created = Suppression.objects.select_for_update().get_or_create(
            address=address,
            category=category or Suppression.ALL_CATEGORIES,
            defaults={"reason": reason[:255], "expires_at": expires_at},
        )
        if not created and suppression.expires_at is not None:
            if expires_at is None or expires_at > suppression.expires_at:
                suppression.expires_at = expires_at
                suppression.reason = reason[:255]
                suppression.save(update_fields=["expires_at", "reason"])
    return suppression


def _suppress_after_soft_bounces(address: str, occurred_at: datetime) -> None:
    # One block or deferral says little (a full mailbox, a greylist, a block list for an
    # hour); EMAIL_SOFT_BOUNCE_LIMIT of them within the window suppress the address for a
    # while, so we stop hammering a receiver that keeps refusing, then try again.
    now = timezone.now()
    since = now - settings.EMAIL_SOFT_BOUNCE_WINDOW
    count = EmailEvent.objects.filter(
        SOFT_BOUNCE, recipient=address, occurred_at__gte=since
    ).count()
    if count >= settings.EMAIL_SOFT_BOUNCE_LIMIT:
        suppression_add(
            address=address,
            reason=f"{count} soft bounces or blocks since {since:%Y-%m-%d %H:%M} UTC",
            expires_at=max(occurred_at, since) + settings.EMAIL_SOFT_BOUNCE_SUPPRESSION,
        )


# Anymail reject reasons of a "bounced" event that are temporary: the receiver may take the
# next message (SendGrid reports an IP block list hit as a bounce of type "blocked").
SOFT_REJECT_REASONS = ("blocked", "timed_out")
SOFT_BOUNCE = Q(event_type="deferred") | Q(
    event_type="bounced", reject_reason__in=SOFT_REJECT_REASONS
)

# Event type -> the delivery state it reports (later events by time win).
DELIVERY_STATES = {
    "deferred": EmailOutbox.Delivery.DEFERRED,
    "delivered": EmailOutbox.Delivery.DELIVERED,
    "bounced": EmailOutbox.Delivery.BOUNCED,
    "rejected": EmailOutbox.Delivery.REJECTED,
    "failed": EmailOutbox.Delivery.REJECTED,
    "complained": EmailOutbox.Delivery.COMPLAINED,
}
# Event type -> the first-time timestamp field it sets.
FIRST_SEEN = {
    "delivered": "delivered_at",
    "bounced": "bounced_at",
    "complained": "complained_at",
}
# Opens and clicks are seen by the ESP and by Proletto's own open pixel and click links;
# outbox_record_engagement writes both into the same columns.
ENGAGEMENT_FIELDS = {"opened": "opened_at", "clicked": "clicked_at"}


def outbox_record_engagement(*, outbox_id: int, event_type: str, at: datetime) -> bool:
    """The first open or click of an email, whoever saw it (the ESP's event, an open pixel,
    a tracked link): the earliest instant wins. True if it moved."""
    field = ENGAGEMENT_FIELDS[event_type]
    earlier = Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gt": at})
    return bool(
        EmailOutbox.objects.filter(earlier, pk=outbox_id).update(
            **{field: at}, updated_at=timezone.now()
        )
    )


def outbox_take_back_engagement(*, outbox_id: int, since: datetime) -> int:
    """The email's first click and open, where recorded at or after `since`, were a link
    scanner's, not the recipient's (seen only once its burst of links showed): taken back."""
    rows = EmailOutbox.objects.filter(pk=outbox_id)
    now = timezone.now()
    return rows.filter(clicked_at__gte=since).update(clicked_at=None, updated_at=now) + rows.filter(
        opened_at__gte=since
    ).update(opened_at=None, updated_at=now)


def outbox_record_event(
    *,
    esp_name: str,
    event_type: str,
    event_id: str | None,
    occurred_at: datetime | None,
    message_id: str | None,
    recipient: str | None,
    description: str = "",
    outbox_id: str | None = None,
    reject_reason: str | None = None,
) -> EmailEvent | None:
    """Apply one ESP delivery event; a duplicate (same event id) returns None and does nothing."""
    occurred_at = occurred_at or timezone.now()
    if not event_id:
        # Some ESPs send no event id: the event's own facts identify it.
        fingerprint = f"{event_type}|{message_id}|{recipient}|{occurred_at.isoformat()}"
        event_id = "sha256:" + hashlib.sha256(fingerprint.encode()).hexdigest()
    with transaction.atomic():
        # Lock the row first so two events for one email are applied one after the other.
        locked = EmailOutbox.objects.select_for_update()
        outbox = locked.filter(esp_message_id=message_id).first() if message_id else None
        if outbox is None and outbox_id and str(outbox_id).isdigit():
            outbox = locked.filter(pk=int(outbox_id)).first()
        try:
            with transaction.atomic():
                event = EmailEvent.objects.create(
                    esp_name=esp_name,
                    event_id=event_id[:255],
                    event_type=event_type,
                    occurred_at=occurred_at,
                    recipient=(recipient or "")[:254],
                    esp_message_id=(message_id or "")[:255],
                    outbox=outbox,
                    description=description or "",
                    reject_reason=(reject_reason or "")[:20],
                )
        except IntegrityError:
            return None
        if outbox is not None:
            _apply_event(outbox, event_type, occurred_at)
        else:
            logger.info("ESP event %s for unknown message id %r", event_type, message_id)

        address = recipient or (outbox.recipient if outbox else "")
        soft = event_type == "deferred" or reject_reason in SOFT_REJECT_REASONS
        if address and soft:
            _suppress_after_soft_bounces(address, occurred_at)
        elif address and event_type in ("bounced", "complained"):
            suppression_add(address=address, reason=f"{event_type}: {description}".strip(": "))
        elif address and event_type == "unsubscribed":
            # One consent model: an unsubscribe from any marketing email stops all of it.
            suppression_add(
                address=address,
                reason="unsubscribed at the ESP",
                category=Suppression.MARKETING,
            )
    return event


# An email the ESP reports on in any way has reached it, whatever the relay last saw.
UNSETTLED_STATUSES = (
    EmailOutbox.Status.QUEUED,
    EmailOutbox.Status.RETRY,
    EmailOutbox.Status.SENDING,
    EmailOutbox.Status.DEAD,
)


def _apply_event(outbox: EmailOutbox, event_type: str, occurred_at: datetime) -> None:
    fields = []
    if outbox.status in UNSETTLED_STATUSES:
        # An ambiguous send (timed out, dropped) that the ESP did take: never resend it.
        outbox.status = EmailOutbox.Status.SENT
        outbox.sent_at = outbox.sent_at or occurred_at
        outbox.claim_token = ""
        outbox.next_attempt_at = None
        outbox.last_error = ""
        fields += ["status", "sent_at", "claim_token", "next_attempt_at", "last_error"]
    field = FIRST_SEEN.get(event_type)
    if field and (getattr(outbox, field) is None or occurred_at < getattr(outbox, field)):
        setattr(outbox, field, occurred_at)
        fields.append(field)
    state = DELIVERY_STATES.get(event_type)
    # An old "delivered" that arrives late must not overwrite a newer "bounced".
    if state and (outbox.delivery_status_at is None or occurred_at >= outbox.delivery_status_at):
        outbox.delivery_status = state
        outbox.delivery_status_at = occurred_at
        fields += ["delivery_status", "delivery_status_at"]
    if fields:
        outbox.save(update_fields=[*fields, "updated_at"])
    if event_type in ENGAGEMENT_FIELDS:
        outbox_record_engagement(outbox_id=outbox.pk, event_type=event_type, at=occurred_at)
