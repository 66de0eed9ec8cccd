import datetime as dt
import json
import time

import pytest
import stripe
import time_machine

from billing.models import CreditLedgerEntry, StripeEvent, Subscription
from tests.billing.conftest import (
    WEBHOOK_SECRET,
    invoice_paid,
    stripe_event,
    stripe_signature,
    subscription_event,
    utc,
)

NOW = utc(2026, 3, 1, 12)
PERIOD_START = utc(2026, 3, 1, 11)
PERIOD_END = utc(2026, 4, 1, 11)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def monthly(linked_monthly):
    return linked_monthly(utc(2026, 1, 1, 11))


def unchanged(subscription):
    before = Subscription.objects.values().get(pk=subscription.pk)
    return lambda: Subscription.objects.values().get(pk=subscription.pk) == before


def test_the_test_signature_is_accepted_by_the_real_stripe_library():
    payload = json.dumps({"id": "evt_1"})
    assert stripe.WebhookSignature.verify_header(
        payload, stripe_signature(payload), WEBHOOK_SECRET, tolerance=300
    )


@pytest.mark.parametrize("legacy", [False, True], ids=["parent-shape", "legacy-shape"])
def test_a_paid_cycle_invoice_resets_the_subscription_for_the_line_period(
    post_event, monthly, legacy
):
    event = invoice_paid(
        "sub_1", period_start=PERIOD_START, period_end=PERIOD_END, legacy=legacy, created=NOW
    )
    response = post_event(event)
    assert response.status_code == 200, response.content
    monthly.refresh_from_db()
    assert monthly.credits_balance == 50
    assert monthly.credits_period_start == PERIOD_START
    assert monthly.next_credit_reset_at == PERIOD_END
    [entry] = monthly.ledger_entries.all()
    assert (entry.kind, entry.source, entry.amount) == ("reset", "webhook", 48)
    assert StripeEvent.objects.get().event_id == event["id"]


def test_a_replayed_event_is_answered_200_and_does_nothing(post_event, monthly):
    event = invoice_paid("sub_1", period_start=PERIOD_START, period_end=PERIOD_END, created=NOW)
    post_event(event)
    Subscription.objects.filter(pk=monthly.pk).update(credits_balance=10)
    response = post_event(event)
    assert response.status_code == 200
    assert response.json()["outcome"] == "replay: already processed"
    monthly.refresh_from_db()
    assert monthly.credits_balance == 10
    assert monthly.ledger_entries.count() == 1


def test_a_second_invoice_event_for_the_same_period_grants_once(post_event, monthly):
    for _ in range(2):
        event = invoice_paid("sub_1", period_start=PERIOD_START, period_end=PERIOD_END, created=NOW)
        assert post_event(event).status_code == 200
    assert monthly.ledger_entries.count() == 1


def test_a_late_invoice_for_an_older_period_does_not_reset(post_event, monthly):
    post_event(invoice_paid("sub_1", period_start=PERIOD_START, period_end=PERIOD_END, created=NOW))
    older = invoice_paid(
        "sub_1", period_start=utc(2026, 2, 1, 11), period_end=PERIOD_START, created=NOW
    )
    response = post_event(older)
    assert response.status_code == 200
    assert response.json()["outcome"].startswith("no reset: ")
    assert monthly.ledger_entries.count() == 1


def test_it_ignores_paid_invoices_that_are_not_a_renewal(post_event, monthly):
    check = unchanged(monthly)
    event = invoice_paid(
        "sub_1",
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        billing_reason="subscription_create",
        created=NOW,
    )
    response = post_event(event)
    assert response.status_code == 200
    assert "ignored" in response.json()["outcome"]
    assert check()


def test_an_event_type_we_do_not_handle_is_a_logged_200_no_op(post_event, monthly, caplog):
    check = unchanged(monthly)
    response = post_event(stripe_event("charge.refunded", {"id": "ch_1"}, created=NOW))
    assert response.status_code == 200
    assert "charge.refunded is not handled" in caplog.text
    assert check()


def test_it_rejects_a_request_without_a_signature(post_event, monthly):
    check = unchanged(monthly)
    event = invoice_paid("sub_1", period_start=PERIOD_START, period_end=PERIOD_END, created=NOW)
    response = post_event(event, sign=False)
    assert response.status_code == 400
    assert response.json() == {"error": "missing Stripe-Signature header"}
    assert check()


def test_it_rejects_a_signature_made_with_another_secret(post_event, monthly):
    check = unchanged(monthly)
    event = invoice_paid("sub_1", period_start=PERIOD_START, period_end=PERIOD_END, created=NOW)
    payload = json.dumps(event)
    response = post_event(payload, signature=stripe_signature(payload, secret="whsec_other"))
    assert response.status_code == 400
    assert response.json()["error"].startswith("bad signature: No signatures found")
    assert check()
    assert not StripeEvent.objects.exists()


def test_it_rejects_a_body_changed_after_signing(post_event, monthly):
    event = invoice_paid("sub_1", period_start=PERIOD_START, period_end=PERIOD_END, created=NOW)
    signature = stripe_signature(json.dumps(event))
    event["data"]["object"]["lines"]["data"][0]["period"]["start"] += 1
    assert post_event(event, signature=signature).status_code == 400
    assert not CreditLedgerEntry.objects.exists()


def test_it_rejects_a_timestamp_outside_the_tolerance(post_event, monthly):
    event = invoice_paid("sub_1", period_start=PERIOD_START, period_end=PERIOD_END, created=NOW)
    payload = json.dumps(event)
    old = int(time.time()) - 301
    response = post_event(payload, signature=stripe_signature(payload, timestamp=old))
    assert response.status_code == 400
    assert "tolerance" in response.json()["error"]
    assert not CreditLedgerEntry.objects.exists()


def test_it_accepts_a_timestamp_inside_the_tolerance(post_event, monthly):
    event = invoice_paid("sub_1", period_start=PERIOD_START, period_end=PERIOD_END, created=NOW)
    payload = json.dumps(event)
    recent = int(time.time()) - 299
    assert (
        post_event(payload, signature=stripe_signature(payload, timestamp=recent)).status_code
        == 200
    )


def test_it_rejects_a_signed_body_that_is_not_json(post_event):
    response = post_event("this is not json")
    assert response.status_code == 400
    assert response.json() == {"error": "body is not JSON"}


def test_it_rejects_signed_json_that_is_not_an_event(post_event):
    response = post_event(json.dumps({"hello": "world"}))
    assert response.status_code == 400
    assert "not a Stripe event" in response.json()["error"]


def test_it_answers_get_with_405(client):
    assert client.get("/billing/stripe/webhook/").status_code == 405


def test_it_answers_503_when_the_secret_is_not_configured(post_event, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    response = post_event(json.dumps({"id": "evt_1"}))
    assert response.status_code == 503
    assert "STRIPE_WEBHOOK_SECRET" in response.json()["error"]


def test_subscription_updated_syncs_status_plan_and_interval(post_event, monthly, studio_plan):
    event = subscription_event(
        "customer.subscription.updated",
        "sub_1",
        status="past_due",
        price="price_studio_year",
        interval="year",
        anchor=utc(2026, 2, 15),
        created=NOW,
    )
    assert post_event(event).status_code == 200
    monthly.refresh_from_db()
    assert (monthly.status, monthly.plan, monthly.interval) == ("past_due", studio_plan, "yearly")
    assert monthly.billing_anchor == utc(2026, 2, 15)
    assert monthly.next_credit_reset_at == utc(2026, 3, 15)
    assert monthly.stripe_synced_at == NOW


def test_subscription_created_links_the_stripe_id_to_the_customers_subscription(
    post_event, make_subscription
):
    local = make_subscription(stripe_customer_id="cus_9", interval="monthly")
    event = subscription_event(
        "customer.subscription.created", "sub_9", customer="cus_9", status="trialing", created=NOW
    )
    assert post_event(event).status_code == 200
    local.refresh_from_db()
    assert (local.stripe_subscription_id, local.status) == ("sub_9", "trialing")


def test_subscription_deleted_cancels_it(post_event, monthly):
    event = subscription_event("customer.subscription.deleted", "sub_1", created=NOW)
    assert post_event(event).status_code == 200
    monthly.refresh_from_db()
    assert monthly.status == "canceled"


def test_an_older_subscription_event_arriving_late_does_not_move_it_back(post_event, monthly):
    newer = subscription_event(
        "customer.subscription.deleted", "sub_1", created=NOW - dt.timedelta(minutes=1)
    )
    older = subscription_event(
        "customer.subscription.updated",
        "sub_1",
        status="active",
        created=NOW - dt.timedelta(minutes=5),
    )
    post_event(newer)
    response = post_event(older)
    assert response.status_code == 200
    assert response.json()["outcome"].startswith("ignored: older than the last applied event")
    monthly.refresh_from_db()
    assert monthly.status == "canceled"


def test_a_subscription_event_with_an_unknown_price_is_rejected_and_changes_nothing(
    post_event, monthly
):
    check = unchanged(monthly)
    event = subscription_event(
        "customer.subscription.updated", "sub_1", price="price_mystery", created=NOW
    )
    response = post_event(event)
    assert response.status_code == 400
    assert response.json() == {
        "error": "no plan has Stripe price price_mystery in its stripe_price_ids"
    }
    assert check()
    assert not StripeEvent.objects.exists()


def test_a_yearly_renewal_invoice_resets_credits_and_keeps_monthly_resets(
    post_event, make_subscription
):
    yearly = make_subscription(
        billing_anchor=utc(2025, 3, 1, 11), stripe_subscription_id="sub_year", credits_balance=0
    )
    event = invoice_paid(
        "sub_year", period_start=PERIOD_START, period_end=utc(2027, 3, 1, 11), created=NOW
    )
    assert post_event(event).status_code == 200
    yearly.refresh_from_db()
    assert yearly.credits_balance == 50
    assert yearly.next_credit_reset_at == utc(2026, 4, 1, 11)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda invoice: invoice.update(lines=["not", "an", "object"]),
        lambda invoice: invoice.update(lines={"data": [{"period": "soon"}]}),
        lambda invoice: invoice["lines"]["data"][0]["period"].update(start=10**20),
        lambda invoice: invoice.update(parent="sub_1"),
    ],
    ids=["lines-a-list", "period-a-string", "start-out-of-range", "parent-a-string"],
)
def test_a_malformed_invoice_is_a_400_not_a_500(post_event, monthly, mangle):
    check = unchanged(monthly)
    event = invoice_paid("sub_1", period_start=PERIOD_START, period_end=PERIOD_END, created=NOW)
    mangle(event["data"]["object"])
    response = post_event(event)
    assert 400 <= response.status_code < 500, response.content
    assert "error" in response.json()
    assert check()
    assert not StripeEvent.objects.exists()


def test_a_malformed_subscription_event_is_a_400_not_a_500(post_event, monthly):
    check = unchanged(monthly)
    event = subscription_event("customer.subscription.updated", "sub_1", created=NOW)
    event["data"]["object"]["items"] = "everything"
    event["data"]["object"]["status"] = ["active"]
    response = post_event(event)
    assert response.status_code == 400
    assert response.json() == {"error": "unknown subscription status ['active']"}
    assert check()
