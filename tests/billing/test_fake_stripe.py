"""The local Stripe stand-in answers the real `stripe` library as Stripe does."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.request import urlopen

import pytest
import stripe

from billing.testing.fake_stripe import FakeStripe, form_to_dict

SECRET = "whsec_fake_test"


@pytest.fixture
def stripe_client():
    def client(fake):
        return stripe.StripeClient(
            "sk_test_fake", base_addresses={"api": fake.api_base}, max_network_retries=0
        )

    return client


class _Receiver(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.server.events.append(
            stripe.Webhook.construct_event(body, self.headers["Stripe-Signature"], SECRET)
        )
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.events = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_form_encoding_is_read_back_into_nested_objects():
    body = (
        "mode=subscription&line_items[0][price]=price_1&line_items[0][quantity]=1&metadata[user]=7"
    )
    assert form_to_dict(body) == {
        "mode": "subscription",
        "line_items": [{"price": "price_1", "quantity": "1"}],
        "metadata": {"user": "7"},
    }


def test_an_unknown_subscription_is_stripes_resource_missing_error(stripe_client):
    with FakeStripe() as fake:
        with pytest.raises(stripe.InvalidRequestError) as raised:
            stripe_client(fake).v1.subscriptions.retrieve("sub_nope")
    assert raised.value.code == "resource_missing"


def test_a_stored_subscription_is_retrieved(stripe_client):
    with FakeStripe() as fake:
        fake.add_subscription({"id": "sub_1", "customer": "cus_1", "status": "active"})
        subscription = stripe_client(fake).v1.subscriptions.retrieve("sub_1")
    assert (subscription.id, subscription.customer) == ("sub_1", "cus_1")


def test_paying_a_checkout_session_sends_a_signed_completed_event(stripe_client, receiver):
    host, port = receiver.server_address[:2]
    with FakeStripe(webhook_url=f"http://{host}:{port}/hook", webhook_secret=SECRET) as fake:
        session = stripe_client(fake).v1.checkout.sessions.create(
            params={
                "mode": "subscription",
                "line_items": [{"price": "price_pro_month", "quantity": 1}],
                "client_reference_id": "42",
                "success_url": "http://127.0.0.1/ok?session={CHECKOUT_SESSION_ID}",
                "cancel_url": "http://127.0.0.1/cancel",
            }
        )
        assert "Pay" in urlopen(session.url).read().decode()
        fake.complete_checkout(session.id)
        subscription_id = fake.checkout_sessions[session.id]["subscription"]
        retrieved = stripe_client(fake).v1.subscriptions.retrieve(subscription_id)
    (event,) = receiver.events
    assert event.type == "checkout.session.completed"
    assert event.data.object.client_reference_id == "42"
    assert event.data.object.subscription == subscription_id
    assert retrieved["items"]["data"][0]["price"]["id"] == "price_pro_month"


def test_a_portal_session_links_back_to_the_return_url(stripe_client):
    with FakeStripe() as fake:
        portal = stripe_client(fake).v1.billing_portal.sessions.create(
            params={"customer": "cus_1", "return_url": "http://127.0.0.1/back"}
        )
        page = urlopen(portal.url).read().decode()
    assert 'href="http://127.0.0.1/back"' in page
    assert json.loads(json.dumps(fake.requests[0]["params"]))["customer"] == "cus_1"
