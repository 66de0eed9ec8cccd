"""The one way Proletto calls Stripe's API: the official library, with our key, our base URL
(the local stand-in in tests and `make demo`) and one wall-clock deadline per call."""

import time

import requests
import stripe
from django.conf import settings

from billing.exceptions import BillingError


class DeadlineSession(requests.Session):
    """A requests session whose every exchange ends by `deadline` seconds, whatever the other
    side drips: requests' own timeout bounds each read, not the whole body."""

    def __init__(self, deadline: float):
        super().__init__()
        self.deadline = deadline

    def request(self, method, url, **kwargs):
        started = time.monotonic()
        kwargs["stream"] = True
        kwargs["timeout"] = self.deadline
        response = super().request(method, url, **kwargs)
        body = bytearray()
        try:
            # read1 returns what one read of the socket gave: iter_content(n) would wait for
            # n bytes, so a server dripping a byte a second (under the read timeout) would
            # never reach the check.
            while chunk := response.raw.read1(8192, decode_content=True):
                body += chunk
                if time.monotonic() - started > self.deadline:
                    raise requests.Timeout(f"Stripe took longer than {self.deadline:g}s to answer")
        finally:
            response.close()
        response._content = bytes(body)
        return response


def stripe_client() -> stripe.StripeClient:
    """A client for one request; BillingError (503) saying what to set when there is no key."""
    if not settings.STRIPE_SECRET_KEY:
        raise BillingError(
            "Stripe is not configured: set STRIPE_SECRET_KEY (and STRIPE_WEBHOOK_SECRET)",
            status=503,
        )
    deadline = settings.STRIPE_TIMEOUT_SECONDS
    options = {
        "http_client": stripe.RequestsClient(timeout=deadline, session=DeadlineSession(deadline)),
        # One deadline per call: the visitor clicks again rather than waiting for retries.
        "max_network_retries": 0,
    }
    if settings.STRIPE_API_BASE:
        options["base_addresses"] = {"api": settings.STRIPE_API_BASE}
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, **options)


def stripe_call(what: str, call):
    """Run `call()` (a StripeClient request) and turn Stripe's errors into one-line
    BillingErrors: 502 when Stripe refused, 504 when it did not answer in time."""
    try:
        return call()
    except stripe.APIConnectionError as exc:
        message = f"{what}: Stripe did not answer ({exc.user_message})"
        raise BillingError(message, status=504) from None
    except stripe.StripeError as exc:
        raise BillingError(f"{what}: Stripe refused ({exc.user_message})", status=502) from None
