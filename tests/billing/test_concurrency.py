import json
import threading

import pytest
import time_machine
from django.db import IntegrityError, connection
from django.test import Client

from billing.exceptions import BillingError
from billing.models import CreditLedgerEntry, Subscription
from billing.services.credits import credits_consume, credits_reset, credits_reset_due
from tests.billing.conftest import (
    WEBHOOK_URL,
    invoice_paid,
    stripe_signature,
    utc,
    with_inbox_applied,
)

Source = CreditLedgerEntry.Source
# A yearly subscription renewing at Stripe on the same instant its 12th monthly period starts:
# the job, Stripe's invoice.paid and an admin all want to reset the same period.
ANCHOR = utc(2025, 3, 31, 9)
RENEWAL = utc(2026, 3, 31, 9)
NOW = utc(2026, 3, 31, 9, 30)


def run_together(*tasks):
    """Run each task in its own thread (its own database connection), released at once."""
    barrier = threading.Barrier(len(tasks))
    errors = []

    def runner(task):
        try:
            barrier.wait(timeout=10)
            task()
        except BaseException as exc:  # reported to the test below, never swallowed
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(task,)) for task in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def post_signed(payload: str) -> int:
    """POST a signed event to the webhook from a fresh client (its own connection)."""
    response = Client().post(
        WEBHOOK_URL,
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": stripe_signature(payload)},
    )
    # The webhook only stores the event; the inbox job applies it (in this thread too).
    return with_inbox_applied(response).status_code


def test_the_database_refuses_a_second_reset_for_the_same_period(make_subscription):
    subscription = make_subscription()
    entry = {"kind": "reset", "amount": 1, "balance_after": 1, "period_start": RENEWAL}
    CreditLedgerEntry.objects.create(subscription=subscription, source=Source.JOB, **entry)
    with pytest.raises(IntegrityError):
        CreditLedgerEntry.objects.create(subscription=subscription, source=Source.ADMIN, **entry)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(5))
def test_job_webhook_and_admin_racing_for_one_period_grant_once(make_subscription, round_):
    with time_machine.travel(utc(2026, 3, 20), tick=False):
        subscription = make_subscription(
            billing_anchor=ANCHOR, stripe_subscription_id=f"sub_race_{round_}"
        )
    event = invoice_paid(
        subscription.stripe_subscription_id,
        period_start=RENEWAL,
        period_end=utc(2027, 3, 31, 9),
        created=NOW,
    )
    payload = json.dumps(event)
    responses = []

    def job():
        credits_reset_due(source=Source.JOB)

    def webhook():
        responses.append(post_signed(payload))

    def admin():
        credits_reset(subscription_ids=[subscription.pk], source=Source.ADMIN)

    with time_machine.travel(NOW, tick=False):
        run_together(job, webhook, admin, admin)

    assert responses == [200]
    [entry] = subscription.ledger_entries.all()
    assert entry.period_start == RENEWAL
    subscription.refresh_from_db()
    assert subscription.credits_balance == 50
    assert subscription.credits_period_start == RENEWAL


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_jobs_sharing_the_due_rows_reset_each_one_once(make_subscription):
    with time_machine.travel(utc(2026, 3, 20), tick=False):
        subscriptions = [make_subscription(billing_anchor=ANCHOR) for _ in range(120)]
    counts = []

    def job():
        counts.append(credits_reset_due(source=Source.JOB, batch_size=10).counts()["reset"])

    with time_machine.travel(NOW, tick=False):
        run_together(job, job)

    assert sum(counts) == 120
    assert CreditLedgerEntry.objects.filter(kind="reset").count() == 120
    assert {s.ledger_entries.count() for s in subscriptions} == {1}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_spending_never_takes_the_balance_below_zero(make_subscription):
    subscription = make_subscription(credits_balance=10)
    refused = []

    def spend():
        try:
            credits_consume(subscription=Subscription.objects.get(pk=subscription.pk), amount=3)
        except BillingError:
            refused.append(1)

    run_together(*[spend] * 5)

    subscription.refresh_from_db()
    assert (subscription.credits_balance, len(refused)) == (1, 2)
    assert subscription.ledger_entries.count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_one_checkout_event_delivered_twice_at_once_makes_one_subscription_and_one_grant(
    pro_plan, round_
):
    from billing.selectors import user_is_pro
    from proletto.models import User
    from tests.billing.conftest import stripe_event

    user = User.objects.create_user(username=f"racer{round_}", email=f"racer{round_}@a.test")
    event = stripe_event(
        "checkout.session.completed",
        {
            "id": f"cs_race_{round_}",
            "object": "checkout.session",
            "mode": "subscription",
            "client_reference_id": str(user.pk),
            "customer": f"cus_race_{round_}",
            "subscription": f"sub_race_{round_}",
            "metadata": {"plan": "pro"},
        },
        created=utc(2026, 3, 2, 9),
    )
    payload = json.dumps(event)
    statuses = []

    def deliver():
        statuses.append(post_signed(payload))

    with time_machine.travel(utc(2026, 3, 2, 9, 0, 5), tick=True):
        run_together(deliver, deliver)
    assert statuses == [200, 200]
    assert Subscription.objects.filter(user=user).count() == 1
    assert CreditLedgerEntry.objects.filter(subscription__user=user, kind="reset").count() == 1
    assert user_is_pro(user)
