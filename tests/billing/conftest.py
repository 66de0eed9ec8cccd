import datetime as dt
import itertools
import json
import time

import pytest
import stripe

from billing.models import Plan, Subscription
from billing.testing.fake_stripe import FakeStripe
from proletto.models import User

WEBHOOK_URL = "/billing/stripe/webhook/"
WEBHOOK_SECRET = "whsec_test_secret"  # proletto/settings_test.py

_numbers = itertools.count(1)


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.fixture
def pro_plan(db):
    return Plan.objects.create(
        code="pro",
        name="Pro",
        monthly_credits=50,
        is_pro=True,
        stripe_price_ids=["price_pro_month", "price_pro_year"],
    )


@pytest.fixture
def studio_plan(db):
    return Plan.objects.create(
        code="studio",
        name="Studio",
        monthly_credits=200,
        is_pro=True,
        stripe_price_ids=["price_studio_year"],
    )


@pytest.fixture
def free_plan(db):
    return Plan.objects.create(code="free", name="Free", monthly_credits=3)


@pytest.fixture
def make_subscription(db, pro_plan):
    def make(**fields):
        number = next(_numbers)
        user = fields.pop("user", None) or User.objects.create_user(
            username=f"artist{number}", email=f"artist{number}@proletto.test"
        )
        values = {
            "plan": pro_plan,
            "interval": Subscription.Interval.YEARLY,
            "status": Subscription.Status.ACTIVE,
            "credits_balance": 7,
            "billing_anchor": utc(2026, 1, 15, 10),
        }
        values.update(fields)
        return Subscription.objects.create(user=user, **values)

    return make


@pytest.fixture
def linked_monthly(make_subscription):
    """A monthly subscription linked to Stripe's sub_1 / cus_1, anchored where the test says."""

    def make(anchor: dt.datetime) -> Subscription:
        return make_subscription(
            interval="monthly",
            billing_anchor=anchor,
            credits_balance=2,
            stripe_customer_id="cus_1",
            stripe_subscription_id="sub_1",
        )

    return make


def stripe_signature(payload: str, *, timestamp: int | None = None, secret=WEBHOOK_SECRET) -> str:
    """A Stripe-Signature header made with the scheme of the real `stripe` library."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = stripe.WebhookSignature._compute_signature(f"{timestamp}.{payload}", secret)
    return f"t={timestamp},v1={signature}"


@pytest.fixture
def fake_stripe(settings):
    """The local stand-in of Stripe's API, with the settings pointing the library at it."""
    with FakeStripe() as fake:
        settings.STRIPE_API_BASE = fake.api_base
        settings.STRIPE_SECRET_KEY = "sk_test_local"
        yield fake


@pytest.fixture
def post_event(client):
    """POST a Stripe event (a dict, or raw text) to the webhook, signed unless told not to."""

    def post(event, *, signature=None, sign=True):
        payload = event if isinstance(event, str) else json.dumps(event)
        headers = {}
        if signature is not None:
            headers["Stripe-Signature"] = signature
        elif sign:
            headers["Stripe-Signature"] = stripe_signature(payload)
        return client.post(
            WEBHOOK_URL, data=payload, content_type="application/json", headers=headers
        )

    return post


def stripe_event(event_type: str, obj: dict, *, event_id=None, created: dt.datetime) -> dict:
    return {
        "id": event_id or f"evt_{next(_numbers)}",
        "object": "event",
        "type": event_type,
        "created": int(created.timestamp()),
        "data": {"object": obj},
    }


def invoice_paid(
    subscription_id: str,
    *,
    period_start: dt.datetime,
    period_end: dt.datetime,
    legacy=False,
    billing_reason="subscription_cycle",
    created: dt.datetime,
    event_id=None,
) -> dict:
    """A paid invoice with one subscription line (tests/billing/invoices.py has the rest)."""
    from tests.billing.invoices import invoice, subscription_line

    line = subscription_line(subscription_id, start=period_start, end=period_end, legacy=legacy)
    obj = invoice(
        subscription_id, [line], legacy=legacy, billing_reason=billing_reason, created=created
    )
    return stripe_event("invoice.paid", obj, created=created, event_id=event_id)


def subscription_event(
    event_type: str,
    subscription_id: str,
    *,
    status="active",
    price="price_pro_month",
    interval="month",
    customer="cus_1",
    anchor: dt.datetime | None = None,
    created: dt.datetime,
    event_id=None,
) -> dict:
    obj = {
        "id": subscription_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "items": {
            "object": "list",
            "data": [{"id": "si_1", "price": {"id": price, "recurring": {"interval": interval}}}],
        },
    }
    if anchor is not None:
        obj["billing_cycle_anchor"] = int(anchor.timestamp())
    return stripe_event(event_type, obj, created=created, event_id=event_id)
