"""Demo plans and subscriptions for `manage.py load_demo`, and the local Stripe stand-in that
`manage.py rundemo` runs beside the web server so /pro/ works without the network."""

import datetime as dt
import os
import sys

from django.utils import timezone

from billing.models import Plan, Subscription

PLANS = [
    {"code": "free", "name": "Free", "monthly_credits": 3, "is_pro": False},
    {
        "code": "pro",
        "name": "Pro",
        "monthly_credits": 50,
        "is_pro": True,
        "stripe_price_ids": ["price_demo_pro_monthly"],
    },
    {
        "code": "studio",
        "name": "Studio",
        "monthly_credits": 200,
        "is_pro": True,
        "stripe_price_ids": ["price_demo_studio_monthly"],
    },
]


def load(users) -> list[str]:
    plans = {}
    for fields in PLANS:
        plans[fields["code"]], _ = Plan.objects.update_or_create(
            code=fields["code"], defaults=fields
        )
    now = timezone.now().replace(microsecond=0)
    created = 0
    for index, user in enumerate(users):
        plan, interval = [
            (plans["pro"], Subscription.Interval.YEARLY),
            (plans["pro"], Subscription.Interval.MONTHLY),
            (plans["free"], Subscription.Interval.MONTHLY),
            (plans["studio"], Subscription.Interval.YEARLY),
        ][index % 4]
        anchor = now - dt.timedelta(days=40 + 23 * index)
        _, was_created = Subscription.objects.get_or_create(
            user=user,
            defaults={
                "plan": plan,
                "interval": interval,
                "status": Subscription.Status.ACTIVE,
                "credits_balance": plan.monthly_credits,
                "billing_anchor": anchor,
            },
        )
        created += was_created
    return [f"{len(plans)} plans, {created} new subscriptions"]


# Not secrets: they only work against the stand-in on 127.0.0.1.
DEMO_STRIPE_SECRET_KEY = "sk_test_demo_local_stand_in"
DEMO_STRIPE_WEBHOOK_SECRET = "whsec_demo_local_stand_in"


def demo_processes(*, site_url: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The Stripe stand-in as a demo process, and the settings that point the app at it
    (whatever STRIPE_* the environment has: the demo never calls the real Stripe)."""
    port = int(os.environ.get("DEMO_STRIPE_PORT", "12111"))
    argv = [
        sys.executable,
        "-m",
        "billing.testing.fake_stripe",
        "--port",
        str(port),
        "--webhook-url",
        f"{site_url}/billing/stripe/webhook/",
        "--webhook-secret",
        DEMO_STRIPE_WEBHOOK_SECRET,
    ]
    environment = {
        "STRIPE_SECRET_KEY": DEMO_STRIPE_SECRET_KEY,
        "STRIPE_WEBHOOK_SECRET": DEMO_STRIPE_WEBHOOK_SECRET,
        "STRIPE_API_BASE": f"http://127.0.0.1:{port}",
    }
    return {"stripe": argv}, environment
