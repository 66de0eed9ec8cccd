import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import CreditLedgerEntry, Subscription
from tests.billing.conftest import utc

CHANGELIST = "/admin/billing/subscription/"
ANCHOR = utc(2026, 1, 31, 10)


@pytest.fixture(autouse=True)
def in_march():
    with time_machine.travel(utc(2026, 3, 1), tick=False):
        yield


def reset_now(admin_client, *subscriptions, confirmed=True):
    data = {"action": "reset_credits_now", "_selected_action": [s.pk for s in subscriptions]}
    if confirmed:
        data["post"] = "yes"
    return admin_client.post(CHANGELIST, data, follow=True)


def test_reset_credits_now_first_asks_and_changes_nothing(admin_client, make_subscription):
    subscription = make_subscription(billing_anchor=ANCHOR)
    response = reset_now(admin_client, subscription, confirmed=False)
    page = response.content.decode()
    assert "Reset the credits of 1 subscription(s) now?" in page
    assert f"#{subscription.pk} artist" in page and "7 -&gt; 50 credits" in page
    assert 'value="Yes, reset 1 subscription(s)"' in page
    assert not CreditLedgerEntry.objects.exists()


def test_reset_credits_now_skips_monthly_and_creditless_plans_and_says_why(
    admin_client, make_subscription, free_plan
):
    free_plan.monthly_credits = 0
    free_plan.save()
    yearly = make_subscription(billing_anchor=ANCHOR)
    monthly = make_subscription(billing_anchor=ANCHOR, interval="monthly")
    free = make_subscription(billing_anchor=ANCHOR, plan=free_plan)
    page = reset_now(admin_client, yearly, monthly, free, confirmed=False).content.decode()
    assert f"#{monthly.pk}: monthly plan: Stripe&#x27;s invoice.paid resets its credits" in page
    assert f"#{free.pk}: plan Free grants no credits" in page
    page = reset_now(admin_client, yearly, monthly, free).content.decode()
    assert "Reset 1 subscription(s); 2 skipped." in page
    assert list(CreditLedgerEntry.objects.values_list("subscription_id", flat=True)) == [yearly.pk]


def test_with_nothing_to_reset_the_page_offers_no_confirm_button(admin_client, make_subscription):
    monthly = make_subscription(interval="monthly")
    page = reset_now(admin_client, monthly, confirmed=False).content.decode()
    assert "Nothing to do" in page and "confirm-action" not in page


def test_reset_credits_now_resets_the_selected_subscriptions(admin_client, make_subscription):
    chosen, other = make_subscription(), make_subscription()
    response = reset_now(admin_client, chosen)
    assert "Reset 1 subscription(s); 0 skipped." in response.content.decode()
    chosen.refresh_from_db()
    other.refresh_from_db()
    assert (chosen.credits_balance, other.credits_balance) == (50, 7)
    assert chosen.ledger_entries.get().source == CreditLedgerEntry.Source.ADMIN


def test_clicking_reset_credits_now_twice_grants_once(admin_client, make_subscription):
    subscription = make_subscription(billing_anchor=ANCHOR)
    reset_now(admin_client, subscription)
    response = reset_now(admin_client, subscription)
    page = response.content.decode()
    assert "Reset 0 subscription(s); 1 skipped" in page
    assert "already reset for the period from 2026-02-28 10:00" in page
    assert subscription.ledger_entries.count() == 1


def test_reset_credits_now_skips_past_due_subscriptions(admin_client, make_subscription):
    subscription = make_subscription(status=Subscription.Status.PAST_DUE)
    response = reset_now(admin_client, subscription)
    assert "status is past_due" in response.content.decode()
    assert not CreditLedgerEntry.objects.exists()


def test_the_subscription_list_makes_the_same_queries_for_3_or_30_rows(
    admin_client, make_subscription
):
    def queries():
        with CaptureQueriesContext(connection) as context:
            assert admin_client.get(CHANGELIST).status_code == 200
        return len(context.captured_queries)

    for _ in range(3):
        make_subscription()
    few = queries()
    for _ in range(27):
        make_subscription()
    assert queries() == few


def test_the_list_can_be_filtered_by_status(admin_client, make_subscription):
    active = make_subscription()
    canceled = make_subscription(status="canceled")
    page = admin_client.get(CHANGELIST, {"status__exact": "canceled"}).content.decode()
    assert f"/{canceled.pk}/change/" in page
    assert f"/{active.pk}/change/" not in page


def test_the_change_page_shows_the_ledger(admin_client, make_subscription):
    subscription = make_subscription()
    reset_now(admin_client, subscription)
    page = admin_client.get(f"{CHANGELIST}{subscription.pk}/change/").content.decode()
    assert "Credit ledger entries" in page
    assert "Monthly reset" in page


def test_the_ledger_cannot_be_edited_in_the_admin(admin_client, make_subscription):
    subscription = make_subscription()
    reset_now(admin_client, subscription)
    entry = subscription.ledger_entries.get()
    response = admin_client.post(
        f"/admin/billing/creditledgerentry/{entry.pk}/change/", {"amount": 1000}
    )
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.amount == 43
