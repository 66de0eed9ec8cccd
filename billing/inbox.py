"""Stripe events kept by the inbox (billing/views.py), applied by process_inbox."""

import json

from billing.services.stripe_events import stripe_event_process
from proletto.inbox.registry import InboxRejected
from proletto.models import InboundEvent


def apply_stripe_event(event: InboundEvent) -> str:
    # The signature and the event's shape were checked before it was stored.
    try:
        payload = json.loads(bytes(event.body))
    except ValueError as exc:
        raise InboxRejected(f"body is not JSON: {exc}") from None
    return stripe_event_process(event=payload)


HANDLERS = {"stripe": apply_stripe_event}
