"""/pro/ and Stripe Checkout, against the local Stripe stand-in with the real stripe library;
the checkout.session.completed webhook with its event dedupe."""

import datetime as dt
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.test import Client

from billing.exceptions import BillingError
from billing.models import CreditLedgerEntry, StripeEvent, Subscription
from billing.selectors import user_is_pro
from billing.services.checkout import checkout_session_start
from billing.testing.fake_stripe import FakeStripe
from proletto.models import User
from proletto.preferences_link import preferences_url
from tests.billing.conftest import stripe_event, utc

NOW = utc(2026, 3, 2, 9)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def fake_stripe(settings):
    with FakeStripe() as fake:
        settings.STRIPE_SECRET_KEY = "sk_test_fake"
        settings.STRIPE_API_BASE = fake.api_base
        yield fake


@pytest.fixture
def giulia(db, free_plan):
    user = User.objects.create_user(
        username="giulia", email="giulia@artists.test", mediums=["painting"]
    )
    Subscription.objects.create(
        user=user, plan=free_plan, credits_balance=3, billing_anchor=utc(2026, 1, 5)
    )
    return user


def checkout_params(fake) -> dict:
    (call,) = [r for r in fake.requests if r["path"] == "/v1/checkout/sessions"]
    return call["params"]


def completed_event(fake, session_url: str) -> dict:
    """What Stripe sends once the artist has paid on the (stand-in's) hosted page."""
    fake.complete_checkout(session_url.rsplit("/", 1)[1])
    return fake.webhook_deliveries[-1]["event"]


# --- /pro/ ------------------------------------------------------------------------------------


def test_the_pro_page_lists_the_pro_plans_for_sale(client, pro_plan, studio_plan, free_plan):
    page = client.get("/pro/").content.decode()
    assert "Go Pro with Pro" in page and "Go Pro with Studio" in page
    assert "Go Pro with Free" not in page
    assert page.index("Go Pro with Pro") < page.index("Go Pro with Studio")  # fewer credits first


def test_without_stripe_keys_the_page_says_how_to_configure_them(client, settings, pro_plan):
    settings.STRIPE_SECRET_KEY = ""
    page = client.get("/pro/").content.decode()
    assert 'id="not-configured"' in page and "STRIPE_SECRET_KEY" in page
    response = client.post("/pro/", {"plan": "pro", "email": "new@artists.test"})
    assert response.status_code == 503
    assert b"set STRIPE_SECRET_KEY" in response.content


def test_choosing_a_plan_starts_a_subscription_checkout_for_its_price(
    client, fake_stripe, pro_plan, giulia
):
    response = client.post("/pro/", {"plan": "pro", "email": "Giulia@Artists.test"})
    assert response.status_code == 302
    assert response["Location"].startswith(f"{fake_stripe.url}/checkout/cs_")
    params = checkout_params(fake_stripe)
    assert params["mode"] == "subscription"
    assert params["line_items"] == [{"price": "price_pro_month", "quantity": "1"}]
    assert params["client_reference_id"] == str(giulia.pk)
    assert params["customer_email"] == "giulia@artists.test"
    assert params["metadata"] == {"plan": "pro"}
    # The subscription's own events find their owner from it (customer.subscription.*).
    assert params["subscription_data"]["metadata"] == {
        "plan": "pro",
        "proletto_user_id": str(giulia.pk),
    }
    assert params["success_url"].endswith("/pro/success/?session_id={CHECKOUT_SESSION_ID}")
    assert params["cancel_url"].endswith("/pro/cancel/")


def test_a_signed_link_from_an_email_names_the_account_without_asking_for_the_email(
    client, fake_stripe, pro_plan, giulia
):
    token = preferences_url(giulia.pk).rstrip("/").rsplit("/", 1)[1]
    page = client.get(f"/pro/?account={token}").content.decode()
    assert "Subscribing as giulia@artists.test" in page and 'name="email"' not in page
    client.post("/pro/", {"plan": "pro", "account": token})
    assert checkout_params(fake_stripe)["client_reference_id"] == str(giulia.pk)


def test_a_plan_not_for_sale_is_refused_and_stripe_is_not_called(
    client, fake_stripe, pro_plan, free_plan
):
    response = client.post("/pro/", {"plan": "free", "email": "a@artists.test"})
    assert response.status_code == 400
    assert b"no Pro plan" in response.content
    assert fake_stripe.requests == []


def test_a_visitor_without_an_email_is_asked_for_one(client, fake_stripe, pro_plan):
    response = client.post("/pro/", {"plan": "pro", "email": ""})
    assert response.status_code == 400
    assert b"Enter the email address" in response.content
    assert fake_stripe.requests == []


def test_the_checkout_form_is_csrf_protected(fake_stripe, pro_plan):
    response = Client(enforce_csrf_checks=True).post("/pro/", {"plan": "pro", "email": "a@b.test"})
    assert response.status_code == 403
    assert fake_stripe.requests == []


class _Drip(BaseHTTPRequestHandler):
    """Answers at once, then sends its JSON one byte a second."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"id": "cs_1", "object": "checkout.session", "url": "http://x/"}' + b" " * 120
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for byte in body:
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return
            self.server.sent += 1
            time.sleep(1)


def test_a_stripe_that_drips_its_answer_is_given_up_at_the_deadline(settings, db, pro_plan):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    server.daemon_threads, server.sent = True, 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_address[1]}"
    settings.STRIPE_TIMEOUT_SECONDS = 2
    try:
        with pytest.raises(BillingError, match="did not answer") as caught:
            checkout_session_start(plan_code="pro", email="a@artists.test")
        assert caught.value.status == 504
        # Given up mid-body (184 bytes at one a second), not after the whole answer.
        assert server.sent < 20
    finally:
        server.shutdown()
        server.server_close()


# --- checkout.session.completed ---------------------------------------------------------------


def test_the_completed_checkout_links_customer_and_subscription_and_makes_the_user_pro(
    client, fake_stripe, pro_plan, giulia, post_event
):
    url = checkout_session_start(plan_code="pro", user=giulia)
    event = completed_event(fake_stripe, url)
    response = post_event(event)
    assert response.status_code == 200, response.content
    subscription = Subscription.objects.get(user=giulia)
    session = event["data"]["object"]
    assert subscription.stripe_customer_id == session["customer"]
    assert subscription.stripe_subscription_id == session["subscription"]
    assert (subscription.plan, subscription.status) == (pro_plan, Subscription.Status.ACTIVE)
    assert subscription.credits_balance == pro_plan.monthly_credits
    assert user_is_pro(giulia)


def test_a_redelivered_checkout_event_is_applied_once(
    client, fake_stripe, pro_plan, giulia, post_event
):
    event = completed_event(fake_stripe, checkout_session_start(plan_code="pro", user=giulia))
    first = post_event(event)
    assert first.inbox_event.outcome.startswith("linked")
    Subscription.objects.filter(user=giulia).update(credits_balance=11)  # spent some
    again = post_event(event)
    assert again.status_code == 200
    assert again.inbox_event.pk == first.inbox_event.pk  # the redelivery is stored once
    assert Subscription.objects.get(user=giulia).credits_balance == 11
    assert StripeEvent.objects.filter(event_id=event["id"]).count() == 1
    assert CreditLedgerEntry.objects.filter(kind="reset").count() == 1


def test_a_visitor_new_to_proletto_gets_an_account_when_the_payment_completes(
    client, fake_stripe, pro_plan, post_event
):
    url = checkout_session_start(plan_code="pro", email="new@artists.test")
    assert "client_reference_id" not in checkout_params(fake_stripe)
    assert post_event(completed_event(fake_stripe, url)).status_code == 200
    user = User.objects.get(email="new@artists.test")
    assert user_is_pro(user)


def test_a_completed_checkout_naming_no_pro_plan_is_refused_and_changes_nothing(
    fake_stripe, pro_plan, giulia, post_event
):
    event = completed_event(fake_stripe, checkout_session_start(plan_code="pro", user=giulia))
    event["data"]["object"]["metadata"] = {"plan": "platinum"}
    response = post_event(event)
    assert response.inbox_event.state == "rejected"  # kept, with why, for a replay
    assert "no Pro plan" in response.inbox_event.last_error
    assert not StripeEvent.objects.exists()
    assert Subscription.objects.get(user=giulia).stripe_subscription_id == ""


def test_a_subscription_already_linked_to_another_account_is_refused(
    fake_stripe, pro_plan, giulia, post_event, make_subscription
):
    event = completed_event(fake_stripe, checkout_session_start(plan_code="pro", user=giulia))
    make_subscription(stripe_subscription_id=event["data"]["object"]["subscription"])
    response = post_event(event)
    assert response.inbox_event.state == "rejected"
    assert Subscription.objects.get(user=giulia).plan.code == "free"


def test_a_later_subscription_update_from_stripe_still_applies(
    fake_stripe, pro_plan, giulia, post_event
):
    event = completed_event(fake_stripe, checkout_session_start(plan_code="pro", user=giulia))
    session = event["data"]["object"]
    post_event(event)
    update = stripe_event(
        "customer.subscription.updated",
        {
            "id": session["subscription"],
            "object": "subscription",
            "customer": session["customer"],
            "status": "past_due",
            "items": {
                "data": [{"price": {"id": "price_pro_year", "recurring": {"interval": "year"}}}]
            },
        },
        created=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5),
    )
    assert post_event(update).status_code == 200
    subscription = Subscription.objects.get(user=giulia)
    assert (subscription.status, subscription.interval) == ("past_due", "yearly")


def test_a_checkout_in_payment_mode_is_acknowledged_and_ignored(db, post_event):
    event = stripe_event(
        "checkout.session.completed",
        {"id": "cs_x", "object": "checkout.session", "mode": "payment"},
        created=NOW,
    )
    response = post_event(event)
    assert response.status_code == 200
    assert response.inbox_event.outcome.startswith("ignored")


# --- the customer portal ----------------------------------------------------------------------


def test_manage_billing_opens_a_portal_session_that_returns_to_the_preferences(
    client, fake_stripe, pro_plan, giulia, post_event
):
    post_event(completed_event(fake_stripe, checkout_session_start(plan_code="pro", user=giulia)))
    token = preferences_url(giulia.pk).rstrip("/").rsplit("/", 1)[1]
    page = client.get(f"/preferences/{token}/").content.decode()
    assert 'id="manage-billing"' in page
    response = client.post(f"/preferences/{token}/billing/")
    assert response.status_code == 302
    assert response["Location"].startswith(f"{fake_stripe.url}/portal/bps_")
    (call,) = [r for r in fake_stripe.requests if r["path"] == "/v1/billing_portal/sessions"]
    assert call["params"]["customer"] == Subscription.objects.get(user=giulia).stripe_customer_id
    assert "/preferences/" in call["params"]["return_url"]


def test_manage_billing_without_a_stripe_customer_says_so(client, fake_stripe, giulia):
    token = preferences_url(giulia.pk).rstrip("/").rsplit("/", 1)[1]
    response = client.post(f"/preferences/{token}/billing/")
    assert response.status_code == 404
    assert b"No Stripe customer is linked" in response.content
    assert fake_stripe.requests == []


def test_manage_billing_is_csrf_protected(fake_stripe, giulia):
    token = preferences_url(giulia.pk).rstrip("/").rsplit("/", 1)[1]
    response = Client(enforce_csrf_checks=True).post(f"/preferences/{token}/billing/")
    assert response.status_code == 403


def test_success_and_cancel_pages_answer(client):
    assert b"you are going Pro" in client.get("/pro/success/?session_id=cs_1").content
    assert b"No payment was taken" in client.get("/pro/cancel/").content


def test_an_account_that_is_already_pro_is_not_sent_to_pay_again(
    client, fake_stripe, pro_plan, make_subscription
):
    subscription = make_subscription(stripe_customer_id="cus_1", stripe_subscription_id="sub_1")
    token = preferences_url(subscription.user.pk).rstrip("/").rsplit("/", 1)[1]
    response = client.post("/pro/", {"plan": "pro", "account": token})
    assert response.status_code == 409
    assert b"already Pro" in response.content
    assert fake_stripe.requests == []


def test_a_typed_email_does_not_reveal_whether_its_owner_is_pro(
    client, fake_stripe, pro_plan, make_subscription
):
    subscription = make_subscription(stripe_customer_id="cus_1", stripe_subscription_id="sub_1")
    pro = client.post("/pro/", {"plan": "pro", "email": subscription.user.email})
    stranger = client.post("/pro/", {"plan": "pro", "email": "nobody@artists.test"})
    assert (pro.status_code, stranger.status_code) == (302, 302)
    assert pro["Location"].startswith(f"{fake_stripe.url}/checkout/")


def test_a_typed_email_never_opens_checkout_as_the_known_stripe_customer(
    client, fake_stripe, pro_plan, giulia
):
    Subscription.objects.filter(user=giulia).update(stripe_customer_id="cus_giulia")
    client.post("/pro/", {"plan": "pro", "email": giulia.email})
    params = checkout_params(fake_stripe)
    # Stripe's page would show the customer's saved cards to whoever typed the address.
    assert "customer" not in params
    assert params["customer_email"] == giulia.email


def test_a_signed_link_opens_checkout_as_the_accounts_stripe_customer(
    client, fake_stripe, pro_plan, giulia
):
    Subscription.objects.filter(user=giulia).update(stripe_customer_id="cus_giulia")
    token = preferences_url(giulia.pk).rstrip("/").rsplit("/", 1)[1]
    client.post("/pro/", {"plan": "pro", "account": token})
    assert checkout_params(fake_stripe)["customer"] == "cus_giulia"


def test_paying_twice_links_the_newer_subscription_and_names_the_older_for_a_refund(
    fake_stripe, pro_plan, giulia, post_event
):
    first = completed_event(fake_stripe, checkout_session_start(plan_code="pro", user=giulia))
    second = completed_event(fake_stripe, checkout_session_start(plan_code="pro", user=giulia))
    post_event(first)
    outcome = post_event(second).inbox_event.outcome
    older = first["data"]["object"]["subscription"]
    assert f"replaced {older}, cancel and refund it" in outcome
    newer = second["data"]["object"]["subscription"]
    assert Subscription.objects.get(user=giulia).stripe_subscription_id == newer
