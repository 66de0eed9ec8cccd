"""Reading a subscription from Stripe's API (the local stand-in) with the real library."""

import socket
import threading

import pytest

from billing.checks import check_stripe_api_settings, check_stripe_secret_key
from billing.stripe_subscriptions import (
    StripeFetchError,
    StripeObjectMissing,
    stripe_subscription_fetch,
)


def test_it_returns_the_subscription_as_json(fake_stripe):
    fake_stripe.add_subscription({"id": "sub_1", "customer": "cus_1", "status": "active"})
    fetched = stripe_subscription_fetch("sub_1")
    assert (fetched["id"], fetched["customer"], fetched["status"]) == ("sub_1", "cus_1", "active")
    assert fake_stripe.requests == [
        {"method": "GET", "path": "/v1/subscriptions/sub_1", "params": {}}
    ]


def test_an_unknown_id_is_missing_not_retryable(fake_stripe):
    with pytest.raises(StripeObjectMissing, match="Stripe has no subscription sub_nope") as error:
        stripe_subscription_fetch("sub_nope")
    assert error.value.retryable is False
    assert len(fake_stripe.requests) == 1  # asked once: no automatic retries


def test_without_a_key_it_does_not_ask_and_says_why(fake_stripe, settings):
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(StripeFetchError, match="STRIPE_SECRET_KEY is not configured") as error:
        stripe_subscription_fetch("sub_1")
    assert error.value.retryable is False
    assert fake_stripe.requests == []


def test_a_refused_connection_is_retryable(settings):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{port}"
    settings.STRIPE_SECRET_KEY = "sk_test_local"
    with pytest.raises(StripeFetchError, match="Stripe did not answer") as error:
        stripe_subscription_fetch("sub_1")
    assert error.value.retryable is True


@pytest.fixture
def dripping_server():
    """Accepts, then sends a valid-looking response one byte at a time, slower than the
    deadline allows in total, never finishing its headers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve():
        connection, _ = server.accept()
        with connection:
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
                if stop.wait(0.2):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    server.close()
    thread.join(timeout=5)


def test_a_server_that_drips_bytes_is_cut_at_the_deadline(settings, dripping_server):
    settings.STRIPE_API_BASE = dripping_server
    settings.STRIPE_SECRET_KEY = "sk_test_local"
    settings.STRIPE_TIMEOUT_SECONDS = 1
    with pytest.raises(StripeFetchError, match="within 1s") as error:
        stripe_subscription_fetch("sub_1")
    assert error.value.retryable is True


def test_a_timeout_that_is_not_positive_fails_the_checks(settings):
    settings.STRIPE_TIMEOUT_SECONDS = 0
    [problem] = check_stripe_api_settings(None)
    assert problem.id == "billing.E001"


def test_check_deploy_warns_without_a_stripe_key(settings):
    settings.STRIPE_SECRET_KEY = ""
    [problem] = check_stripe_secret_key(None)
    assert problem.id == "billing.W001"
    settings.STRIPE_SECRET_KEY = "rk_test_x"
    assert check_stripe_secret_key(None) == []
