"""Reads from Stripe's API with the official library: the key from STRIPE_SECRET_KEY, the
address from STRIPE_API_BASE (a local stand-in in tests), one wall-clock deadline
(STRIPE_TIMEOUT_SECONDS) for the whole exchange and no automatic retries, so a webhook
that asks Stripe something answers in bounded time whatever the network does."""

import threading

import requests
import stripe
from django.conf import settings


class StripeFetchError(Exception):
    """Stripe could not tell us. `retryable`: asking again later may work without anyone
    acting (timeout, network, Stripe's 5xx or 429); otherwise someone must fix something
    (no key, a key Stripe refuses)."""

    def __init__(self, message: str, *, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


class StripeObjectMissing(StripeFetchError):
    """Stripe answered that the object does not exist (404 resource_missing)."""

    def __init__(self, message: str):
        super().__init__(message, retryable=False)


class _DeadlineRequestsClient(stripe.RequestsClient):
    """The library's requests client with one deadline for the whole request: `timeout` only
    bounds each socket read, so a server sending a byte a second would hold it for ever. The
    request runs in a daemon thread; when the deadline passes the caller gets a connection
    error at once and the thread ends with the socket."""

    def __init__(self, *, deadline: float):
        super().__init__(timeout=(deadline, deadline), session=requests.Session())
        self._deadline = deadline

    def request(self, method, url, headers, post_data=None):
        outcome: dict = {}

        def call():
            try:
                outcome["result"] = super(_DeadlineRequestsClient, self).request(
                    method, url, headers, post_data
                )
            except BaseException as exc:  # handed to the caller's thread below
                outcome["error"] = exc

        worker = threading.Thread(target=call, name="stripe-request", daemon=True)
        worker.start()
        worker.join(self._deadline)
        if worker.is_alive():
            self._session.close()
            raise stripe.APIConnectionError(
                f"no complete answer from Stripe within {self._deadline:g}s"
            )
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]


def stripe_client() -> stripe.StripeClient:
    key = settings.STRIPE_SECRET_KEY
    if not key:
        raise StripeFetchError(
            "STRIPE_SECRET_KEY is not configured: Stripe cannot be asked", retryable=False
        )
    options = {
        "http_client": _DeadlineRequestsClient(deadline=settings.STRIPE_TIMEOUT_SECONDS),
        "max_network_retries": 0,
    }
    if settings.STRIPE_API_BASE:
        options["base_addresses"] = {"api": settings.STRIPE_API_BASE}
    return stripe.StripeClient(key, **options)


def stripe_subscription_fetch(subscription_id: str) -> dict:
    """GET /v1/subscriptions/<id> as plain JSON (what a webhook payload would carry)."""
    client = stripe_client()
    try:
        subscription = client.v1.subscriptions.retrieve(subscription_id)
    except stripe.InvalidRequestError as exc:
        if exc.code == "resource_missing":
            raise StripeObjectMissing(f"Stripe has no subscription {subscription_id}") from None
        refused = exc
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        raise StripeFetchError(f"Stripe did not answer: {_message(exc)}", retryable=True) from None
    except stripe.StripeError as exc:  # authentication, permission: a person must act
        refused = exc
    else:
        return subscription.to_dict()
    raise StripeFetchError(f"Stripe refused the request: {_message(refused)}", retryable=False)


def _message(exc: stripe.StripeError) -> str:
    text = exc.user_message or str(exc) or type(exc).__name__
    status = f"HTTP {exc.http_status}: " if exc.http_status else ""
    return (status + " ".join(text.split()))[:200]
