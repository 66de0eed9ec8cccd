"""Calls to Stripe's API from the artists' pages (Checkout, the customer portal): the client of
billing/stripe_subscriptions.py (key, base address, one wall-clock deadline, no automatic
retry), with Stripe's errors turned into one-line BillingErrors a page can show."""

import stripe
from django.conf import settings

from billing import stripe_subscriptions
from billing.exceptions import BillingError


def stripe_client() -> stripe.StripeClient:
    """A client for one request; BillingError (503) saying what to set when there is no key."""
    if not settings.STRIPE_SECRET_KEY:
        raise BillingError(
            "Stripe is not configured: set STRIPE_SECRET_KEY (and STRIPE_WEBHOOK_SECRET)",
            status=503,
        )
    return stripe_subscriptions.stripe_client()


def stripe_call(what: str, call):
    """Run `call()` (a StripeClient request) and turn Stripe's errors into one-line
    BillingErrors: 502 when Stripe refused, 504 when it did not answer in time."""
    try:
        return call()
    except stripe.APIConnectionError as exc:
        message = f"{what}: Stripe did not answer ({exc.user_message or exc})"
        raise BillingError(message, status=504) from None
    except stripe.StripeError as exc:
        raise BillingError(f"{what}: Stripe refused ({exc.user_message})", status=502) from None
