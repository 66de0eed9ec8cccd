"""Demo plans and subscriptions for `manage.py load_demo`."""

import datetime as dt

from django.utils import timezone

from billing.models import Plan, Subscription

PLANS = [
    {"code": "free", "name": "Free", "monthly_credits": 3, "is_pro": False},
    {"code": "pro", "name": "Pro", "monthly_credits": 50, "is_pro": True},
    {"code": "studio", "name": "Studio", "monthly_credits": 200, "is_pro": True},
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
