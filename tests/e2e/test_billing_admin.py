import datetime as dt

import pytest

from billing.models import Plan, Subscription
from proletto.models import User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_reset_credits_asks_first_names_what_it_skips_and_a_second_click_grants_nothing(
    page, live_server, admin_login, screenshot
):
    plan = Plan.objects.create(code="pro", name="Pro", monthly_credits=50, is_pro=True)
    artist = User.objects.create_user(username="mira", email="mira@proletto.test")
    subscription = Subscription.objects.create(
        user=artist,
        plan=plan,
        interval="yearly",
        credits_balance=4,
        billing_anchor=dt.datetime(2025, 1, 31, 10, tzinfo=dt.UTC),
    )
    monthly = Subscription.objects.create(
        user=User.objects.create_user(username="olu", email="olu@proletto.test"),
        plan=plan,
        interval="monthly",
        credits_balance=9,
        billing_anchor=dt.datetime(2025, 1, 31, 10, tzinfo=dt.UTC),
    )
    admin_login()

    def choose_reset():
        page.goto(f"{live_server.url}/admin/billing/subscription/")
        for chosen in (subscription, monthly):
            page.check(f"input[name=_selected_action][value='{chosen.pk}']")
        page.select_option("select[name=action]", "reset_credits_now")
        page.click("button[name=index]")
        page.wait_for_selector("#action-confirmation")

    choose_reset()
    assert "Reset the credits of 1 subscription(s) now?" in page.inner_text(".will-act-intro")
    assert f"#{subscription.pk} mira (Pro, yearly): 4 -> 50 credits" in page.inner_text(".will-act")
    assert f"#{monthly.pk}: monthly plan" in page.inner_text(".skipped")
    screenshot("-confirmation")
    assert not subscription.ledger_entries.exists()  # asking changed nothing
    page.click("#confirm-action")
    page.wait_for_selector(".messagelist")
    assert "Reset 1 subscription(s); 1 skipped." in page.inner_text(".messagelist")

    choose_reset()
    assert "Nothing to do" in page.inner_text("#action-confirmation")
    assert "already reset for the period" in page.inner_text(".skipped")
    assert page.locator("#confirm-action").count() == 0
    page.click("text=No, take me back")
    page.wait_for_url("**/admin/billing/subscription/")
    screenshot()

    page.click(f"a[href$='/billing/subscription/{subscription.pk}/change/']")
    assert "Monthly reset" in page.inner_text("#ledger_entries-group")
    subscription.refresh_from_db()
    assert subscription.credits_balance == 50
    assert subscription.ledger_entries.count() == 1
    assert not monthly.ledger_entries.exists()
