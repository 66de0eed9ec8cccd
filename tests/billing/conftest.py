import datetime as dt
import itertools
import json
import time

import pytest
import stripe

from billing.models import Plan, Subscription
from proletto.inbox.services import inbox_process
from proletto.models import InboundEvent, User

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


def stripe_signature(payload: str, *, timestamp: int | None = None, secret=WEBHOOK_SECRET) -> str:
    """A Stripe-Signature header made with the scheme of the real `stripe` library."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = stripe.WebhookSignature._compute_signature(f"{timestamp}.{payload}", secret)
    return f"t={timestamp},v1={signature}"


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
        response = client.post(
            WEBHOOK_URL, data=payload, content_type="application/json", headers=headers
        )
        return with_inbox_applied(response)

    return post


def with_inbox_applied(response):
    """Run the inbox job after a webhook request, as the scheduler would within a minute;
    `response.inbox_event` is the stored event as the job left it (None if nothing was)."""
    response.inbox_event = None
    if response.status_code == 200:
        inbox_process()
        response.inbox_event = InboundEvent.objects.get(pk=response.json()["id"])
    return response


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
    invoice = {
        "id": f"in_{next(_numbers)}",
        "object": "invoice",
        "billing_reason": billing_reason,
        # On cycle invoices Stripe's own period_* is the period that just ended.
        "period_start": int((period_start - dt.timedelta(days=30)).timestamp()),
        "period_end": int(period_start.timestamp()),
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": "il_1",
                    "object": "line_item",
                    "period": {
                        "start": int(period_start.timestamp()),
                        "end": int(period_end.timestamp()),
                    },
                }
            ],
        },
    }
    if legacy:
        invoice["subscription"] = subscription_id
    else:
        invoice["parent"] = {
            "type": "subscription_details",
            "subscription_details": {"subscription": subscription_id, "metadata": {}},
        }
    return stripe_event("invoice.paid", invoice, created=created, event_id=event_id)


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
