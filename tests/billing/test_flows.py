"""End to end: a monthly plan lives on Stripe's webhooks, a yearly plan on the daily job."""

import time_machine
from django.db.models import Sum

from billing.jobs import reset_monthly_credits
from billing.services.credits import credits_consume
from tests.billing.conftest import invoice_paid, subscription_event, utc


def test_a_monthly_subscriber_is_linked_renewed_upgraded_and_canceled_by_stripe(
    post_event, make_subscription, studio_plan
):
    anchor = utc(2026, 1, 31, 8)
    with time_machine.travel(utc(2026, 1, 31, 8, 1), tick=False):
        local = make_subscription(
            interval="monthly", billing_anchor=anchor, stripe_customer_id="cus_7"
        )
        created = subscription_event(
            "customer.subscription.created",
            "sub_7",
            customer="cus_7",
            anchor=anchor,
            created=utc(2026, 1, 31, 8, 1),
        )
        assert post_event(created).status_code == 200

    for start, end in [
        (utc(2026, 2, 28, 8), utc(2026, 3, 31, 8)),
        (utc(2026, 3, 31, 8), utc(2026, 4, 30, 8)),
    ]:
        with time_machine.travel(start, tick=False):
            # The daily job runs too and leaves the monthly plan alone.
            assert reset_monthly_credits()["reset"] == 0
            renewal = invoice_paid("sub_7", period_start=start, period_end=end, created=start)
            assert post_event(renewal).status_code == 200
            credits_consume(subscription=local, amount=20)

    with time_machine.travel(utc(2026, 4, 2), tick=False):
        upgraded = subscription_event(
            "customer.subscription.updated",
            "sub_7",
            price="price_studio_year",
            interval="year",
            anchor=anchor,
            created=utc(2026, 4, 2),
        )
        assert post_event(upgraded).status_code == 200
        deleted = subscription_event(
            "customer.subscription.deleted",
            "sub_7",
            price="price_studio_year",
            interval="year",
            created=utc(2026, 4, 2, 0, 1),
        )
        assert post_event(deleted).status_code == 200

    with time_machine.travel(utc(2026, 4, 30, 9), tick=False):
        assert reset_monthly_credits()["reset"] == 0  # canceled: no more resets

    local.refresh_from_db()
    assert (local.stripe_subscription_id, local.status) == ("sub_7", "canceled")
    assert (local.plan, local.interval) == (studio_plan, "yearly")
    assert local.credits_balance == 30
    assert local.credits_period_start == utc(2026, 3, 31, 8)
    kinds = list(local.ledger_entries.order_by("created_at", "id").values_list("kind", "source"))
    assert kinds == [
        ("reset", "webhook"),
        ("consumption", "app"),
        ("reset", "webhook"),
        ("consumption", "app"),
    ]
    total = local.ledger_entries.aggregate(total=Sum("amount"))["total"]
    assert total == local.credits_balance - 7  # 7: the balance before the ledger started
