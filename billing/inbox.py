"""Stripe events kept by the inbox (billing/views.py), applied by process_inbox."""

import json

from billing.exceptions import BillingError
from billing.services.stripe_events import stripe_event_process
from proletto.inbox.registry import InboxRejected
from proletto.models import InboundEvent


def apply_stripe_event(event: InboundEvent) -> str:
    # The signature and the event's shape were checked before it was stored.
    try:
        return stripe_event_process(event=json.loads(bytes(event.body)))
    except BillingError as exc:
        # A 4xx other than 404 is about the payload as Stripe sent it (or a price no plan
        # knows): retrying cannot help, a replay after a fix can. An unknown subscription
        # (404) may be created any moment by a checkout: retried with backoff.
        if exc.status != 404:
            raise InboxRejected(str(exc)) from exc
        raise


HANDLERS = {"stripe": apply_stripe_event}
