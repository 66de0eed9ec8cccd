import datetime as dt

import pytest

from billing.models import CreditLedgerEntry, Plan, StripeEvent, Subscription
from billing.services.stripe_events import stripe_event_process
from billing.testing.fake_stripe import FakeStripe
from proletto.models import User
from tests.billing.conftest import stripe_event
from tests.billing.invoices import invoice, one_off_line, stripe_subscription

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_finds_an_event_needing_attention_and_processes_it_again(
    page, live_server, admin_login, screenshot, settings
):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start, end = now - dt.timedelta(days=2), now + dt.timedelta(days=28)
    plan = Plan.objects.create(code="pro", name="Pro", monthly_credits=50, is_pro=True)
    Subscription.objects.create(
        user=User.objects.create_user(username="mira", email="mira@proletto.test"),
        plan=plan,
        interval="monthly",
        billing_anchor=start - dt.timedelta(days=30),
        stripe_customer_id="cus_1",
        stripe_subscription_id="sub_1",
    )
    settings.STRIPE_SECRET_KEY = ""
    only_a_one_off = invoice("sub_1", [one_off_line("sub_1", at=start)], created=start)
    event = stripe_event("invoice.paid", only_a_one_off, created=start)
    assert stripe_event_process(event=event).startswith("needs attention")
    StripeEvent.objects.create(event_id="evt_done", type="invoice.paid", created=now)
    admin_login()

    page.goto(f"{live_server.url}/admin/billing/stripeevent/")
    page.click("#changelist-filter a:text('Needs attention')")
    rows = page.inner_text("#result_list tbody")
    assert event["id"] in rows and "evt_done" not in rows
    assert "STRIPE_SECRET_KEY is not configured" in rows

    with FakeStripe() as fake:
        fake.add_subscription(stripe_subscription("sub_1", start=start, end=end))
        settings.STRIPE_API_BASE, settings.STRIPE_SECRET_KEY = fake.api_base, "sk_test_local"
        page.check("#result_list tbody input[name=_selected_action]")
        page.select_option("select[name=action]", "process_again")
        page.click("button[name=index]")
        page.wait_for_selector(".messagelist")
    assert "Processed 1 event(s) again; 0 still need attention." in page.inner_text(".messagelist")
    screenshot()
    assert StripeEvent.objects.get(event_id=event["id"]).state == "processed"
    assert CreditLedgerEntry.objects.get().period_start == start
