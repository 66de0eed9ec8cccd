"""Anymail's tracking signal, handed to the service that records delivery events."""

from anymail.signals import tracking
from django.dispatch import receiver

from outreach.services.events import outbox_record_event


@receiver(tracking, dispatch_uid="outreach.record_tracking_event")
def record_tracking_event(sender, event, esp_name, **kwargs):
    outbox_record_event(
        esp_name=esp_name.lower(),
        event_type=event.event_type,
        event_id=event.event_id,
        occurred_at=event.timestamp,
        message_id=event.message_id,
        recipient=event.recipient,
        description=event.description or event.mta_response or "",
        outbox_id=(event.metadata or {}).get("outbox_id"),
        reject_reason=_reject_reason(event),
    )


def _reject_reason(event) -> str | None:
    # Anymail gives SendGrid's reason only for "dropped"; a "bounce" of type "blocked" (the
    # receiver's block list, temporary) would otherwise look like a hard bounce.
    esp_event = event.esp_event
    if event.reject_reason is None and isinstance(esp_event, dict):
        if esp_event.get("event") == "bounce" and esp_event.get("type") == "blocked":
            return "blocked"
    return event.reject_reason
