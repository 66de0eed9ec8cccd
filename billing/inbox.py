"""Stripe events kept by the inbox (billing/views.py), applied by process_inbox."""

import json

from billing.exceptions import BillingError
from billing.services.stripe_events import stripe_event_process
from proletto.inbox.registry import InboxRejected
from proletto.models import InboundEvent


def apply_stripe_event(event: InboundEvent) -> str:
    """stripe_event_process on the stored event: its StripeEvent row (processed, ignored,
    needs attention) is the dedupe and the billing admin's view of it."""
    # The signature and the event's shape were checked before it was stored.
    try:
        return stripe_event_process(event=json.loads(bytes(event.body)))
    except BillingError as exc:
        # What Stripe's retry would fix (5xx: Stripe's API unreachable, a subscription not
        # linked yet) fails and is retried with backoff; other 4xx are about the payload
        # itself (or a price no plan knows): rejected with the reason, replayable after a fix.
        if exc.status < 500 and exc.status != 404:
            raise InboxRejected(str(exc)) from exc
        raise


HANDLERS = {"stripe": apply_stripe_event}
