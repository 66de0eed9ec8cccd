"""invoice.paid shaped like real invoices, and events for subscriptions we do not know: the
period paid for, asking Stripe when the invoice does not say it, and the event states
(processed, ignored, needs attention) with the HTTP answer Stripe acts on."""

import datetime as dt

import pytest
import time_machine

from billing.models import CreditLedgerEntry, StripeEvent, Subscription
from billing.services.stripe_events import stripe_events_process_again
from proletto.models import User
from tests.billing.conftest import stripe_event, subscription_event, utc
from tests.billing.invoices import (
    invoice,
    one_off_line,
    stripe_subscription,
    subscription_line,
)

ANCHOR = utc(2026, 10, 15, 9)
START, END = utc(2026, 11, 15, 9), utc(2026, 12, 15, 9)
NEXT_END = utc(2027, 1, 15, 9)
NOW = START + dt.timedelta(hours=1)


@pytest.fixture(autouse=True)
def frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def monthly(linked_monthly):
    return linked_monthly(ANCHOR)


def paid(lines, *, subscription="sub_1", legacy=False, created=NOW, event_id=None, **options):
    obj = invoice(subscription, lines, legacy=legacy, created=created, **options)
    return stripe_event("invoice.paid", obj, created=created, event_id=event_id)


def item_first(start, end, *, item_at, legacy=False):
    return [
        one_off_line("sub_1", at=item_at, legacy=legacy),
        subscription_line("sub_1", start=start, end=end, legacy=legacy),
    ]


def stored(event) -> StripeEvent:
    return StripeEvent.objects.get(event_id=event["id"])


@pytest.mark.parametrize("legacy", [False, True], ids=["current-shape", "legacy-shape"])
def test_an_item_first_invoice_resets_for_the_subscription_lines_period(
    post_event, monthly, legacy
):
    event = paid(item_first(START, END, item_at=utc(2026, 11, 20, 9), legacy=legacy), legacy=legacy)
    response = post_event(event)
    assert response.status_code == 200, response.content
    monthly.refresh_from_db()
    assert (monthly.credits_period_start, monthly.next_credit_reset_at) == (START, END)
    assert monthly.credits_balance == 50
    assert stored(event).state == StripeEvent.State.PROCESSED


def test_two_cycles_of_item_first_invoices_grant_both_months_once(post_event, monthly):
    # The second cycle's one-off item is older than the first's: first-line logic said
    # "already reset" and lost the month.
    first = paid(item_first(START, END, item_at=utc(2026, 11, 20, 9)))
    assert post_event(first).status_code == 200
    with time_machine.travel(END + dt.timedelta(hours=1), tick=False):
        second = paid(
            item_first(END, NEXT_END, item_at=utc(2026, 11, 18, 9)),
            created=END + dt.timedelta(hours=1),
        )
        assert post_event(second).status_code == 200
        assert post_event(second).json()["outcome"] == "replay: already processed"
    resets = CreditLedgerEntry.objects.filter(subscription=monthly, kind="reset")
    assert sorted(resets.values_list("period_start", flat=True)) == [START, END]
    monthly.refresh_from_db()
    assert monthly.next_credit_reset_at == NEXT_END


def test_an_invoice_without_a_subscription_line_asks_stripe_for_the_period(
    post_event, monthly, fake_stripe
):
    fake_stripe.add_subscription(stripe_subscription("sub_1", start=START, end=END))
    event = paid([one_off_line("sub_1", at=utc(2026, 11, 20, 9))])
    response = post_event(event)
    assert response.status_code == 200, response.content
    monthly.refresh_from_db()
    assert (monthly.credits_period_start, monthly.next_credit_reset_at) == (START, END)
    assert [r["path"] for r in fake_stripe.requests] == ["/v1/subscriptions/sub_1"]


def test_an_invoice_whose_lines_are_clear_does_not_call_stripe(post_event, monthly, fake_stripe):
    post_event(paid(item_first(START, END, item_at=utc(2026, 11, 20, 9))))
    assert fake_stripe.requests == []


def test_without_a_stripe_key_an_unclear_invoice_needs_attention_and_is_answered_200(
    post_event, monthly, settings
):
    settings.STRIPE_SECRET_KEY = ""
    event = paid([one_off_line("sub_1", at=utc(2026, 11, 20, 9))])
    response = post_event(event)
    assert response.status_code == 200, response.content
    record = stored(event)
    assert record.state == StripeEvent.State.NEEDS_ATTENTION
    assert "STRIPE_SECRET_KEY is not configured" in record.outcome
    assert "no subscription line" in record.outcome
    assert record.payload == event
    assert not CreditLedgerEntry.objects.exists()


def test_when_stripe_cannot_tell_the_period_the_event_needs_attention(
    post_event, monthly, fake_stripe
):
    fake_stripe.add_subscription(
        stripe_subscription(
            "sub_1", start=START, end=END, item_periods=[(START, END), (ANCHOR, NEXT_END)]
        )
    )
    event = paid([one_off_line("sub_1", at=utc(2026, 11, 20, 9))])
    response = post_event(event)
    assert response.status_code == 200
    record = stored(event)
    assert record.state == StripeEvent.State.NEEDS_ATTENTION
    assert "2 different periods" in record.outcome
    assert not CreditLedgerEntry.objects.exists()


def test_when_stripe_is_unreachable_it_answers_503_and_a_redelivery_applies_it_once(
    post_event, monthly, settings, fake_stripe
):
    fake_stripe.add_subscription(stripe_subscription("sub_1", start=START, end=END))
    api_base = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # discard port: connection refused
    event = paid([one_off_line("sub_1", at=utc(2026, 11, 20, 9))])
    response = post_event(event)
    assert response.status_code == 503
    assert "Stripe did not answer" in response.json()["error"]
    assert stored(event).state == StripeEvent.State.NEEDS_ATTENTION

    settings.STRIPE_API_BASE = api_base
    assert post_event(event).status_code == 200
    assert post_event(event).json()["outcome"] == "replay: already processed"
    record = stored(event)
    assert (record.state, record.attempts, record.payload) == ("processed", 2, None)
    assert CreditLedgerEntry.objects.filter(kind="reset").count() == 1


def test_an_invoice_for_a_period_that_has_ended_does_not_move_the_reset_date_back(
    post_event, monthly
):
    Subscription.objects.filter(pk=monthly.pk).update(next_credit_reset_at=NEXT_END)
    old = paid(item_first(ANCHOR, START, item_at=ANCHOR))
    response = post_event(old)
    assert response.status_code == 200
    assert response.json()["outcome"].startswith("no reset: the period")
    monthly.refresh_from_db()
    assert monthly.next_credit_reset_at == NEXT_END
    assert not CreditLedgerEntry.objects.exists()


def test_an_event_that_needed_attention_is_applied_when_processed_again(
    post_event, monthly, settings, fake_stripe
):
    fake_stripe.add_subscription(stripe_subscription("sub_1", start=START, end=END))
    settings.STRIPE_SECRET_KEY = ""
    event = paid([one_off_line("sub_1", at=utc(2026, 11, 20, 9))])
    post_event(event)
    settings.STRIPE_SECRET_KEY = "sk_test_local"  # the cause, fixed
    [result] = stripe_events_process_again(event_ids=[stored(event).pk])
    assert result.startswith("reset ")
    assert stored(event).state == StripeEvent.State.PROCESSED
    monthly.refresh_from_db()
    assert monthly.credits_period_start == START


# --- subscriptions we do not know ---------------------------------------------------------


def test_an_invoice_for_a_subscription_of_no_user_is_ignored_with_200(
    post_event, monthly, fake_stripe
):
    fake_stripe.add_subscription(
        stripe_subscription("sub_stranger", start=START, end=END, customer="cus_stranger")
    )
    event = paid(
        [subscription_line("sub_stranger", start=START, end=END)], subscription="sub_stranger"
    )
    response = post_event(event)
    assert response.status_code == 200, response.content
    record = stored(event)
    assert record.state == StripeEvent.State.IGNORED
    assert "belongs to no Proletto user" in record.outcome
    assert post_event(event).json()["outcome"] == "replay: already processed"
    assert len(fake_stripe.requests) == 1  # asked Stripe once, not on the redelivery
    assert not CreditLedgerEntry.objects.exists()


def test_an_invoice_for_a_subscription_stripe_does_not_have_is_ignored(
    post_event, monthly, fake_stripe
):
    event = paid([subscription_line("sub_gone", start=START, end=END)], subscription="sub_gone")
    response = post_event(event)
    assert response.status_code == 200
    assert stored(event).state == StripeEvent.State.IGNORED
    assert "Stripe has no subscription sub_gone" in stored(event).outcome


def test_an_invoice_for_a_new_subscription_of_a_known_customer_links_it(
    post_event, make_subscription, fake_stripe
):
    local = make_subscription(interval="monthly", billing_anchor=ANCHOR, stripe_customer_id="cus_7")
    fake_stripe.add_subscription(
        stripe_subscription("sub_7", start=START, end=END, customer="cus_7")
    )
    event = paid([subscription_line("sub_7", start=START, end=END)], subscription="sub_7")
    assert post_event(event).status_code == 200
    local.refresh_from_db()
    assert (local.stripe_subscription_id, local.credits_period_start) == ("sub_7", START)


def test_a_subscription_event_of_no_user_is_ignored_with_200(post_event, monthly):
    event = subscription_event(
        "customer.subscription.updated", "sub_zzz", customer="cus_zzz", created=NOW
    )
    response = post_event(event)
    assert response.status_code == 200
    record = stored(event)
    assert record.state == StripeEvent.State.IGNORED
    assert "belongs to no Proletto user" in record.outcome
    assert record.payload == event


def test_a_subscription_sold_by_our_checkout_but_not_linked_yet_is_retried_by_stripe(
    post_event, monthly
):
    event = subscription_event(
        "customer.subscription.created", "sub_new", customer="cus_new", created=NOW
    )
    event["data"]["object"]["metadata"] = {"plan": "pro"}
    response = post_event(event)
    assert response.status_code == 503
    assert "not linked to a user yet" in response.json()["error"]
    assert stored(event).state == StripeEvent.State.NEEDS_ATTENTION
    # Checkout's own event links the customer; Stripe's retry then applies the event.
    Subscription.objects.filter(pk=monthly.pk).update(
        stripe_customer_id="cus_new", stripe_subscription_id=""
    )
    assert post_event(event).status_code == 200
    assert stored(event).state == StripeEvent.State.PROCESSED
    monthly.refresh_from_db()
    assert monthly.stripe_subscription_id == "sub_new"


def test_a_subscription_for_a_user_without_a_subscription_row_is_retried_by_stripe(post_event, db):
    user = User.objects.create_user(username="newcomer", email="new@proletto.test")
    event = subscription_event(
        "customer.subscription.created", "sub_new", customer="cus_new", created=NOW
    )
    event["data"]["object"]["metadata"] = {"proletto_user_id": str(user.pk)}
    response = post_event(event)
    assert response.status_code == 503
    assert "has no subscription row yet" in response.json()["error"]
