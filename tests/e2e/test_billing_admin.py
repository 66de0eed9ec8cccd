import datetime as dt

import pytest

from billing.models import Plan, Subscription
from proletto.models import User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_resets_credits_from_the_list_and_a_second_click_grants_nothing(
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
    admin_login()

    for _ in range(2):
        page.goto(f"{live_server.url}/admin/billing/subscription/")
        page.check(f"input[name=_selected_action][value='{subscription.pk}']")
        page.select_option("select[name=action]", "reset_credits_now")
        page.click("button[name=index]")
        page.wait_for_selector(".messagelist")
        if _ == 0:
            assert "Reset 1 subscription(s)" in page.inner_text(".messagelist")
    assert "Reset 0 subscription(s); 1 skipped" in page.inner_text(".messagelist")
    assert "already reset for the period" in page.inner_text(".messagelist")
    screenshot()

    page.click(f"a[href$='/billing/subscription/{subscription.pk}/change/']")
    assert "Monthly reset" in page.inner_text("#ledger_entries-group")
    subscription.refresh_from_db()
    assert subscription.credits_balance == 50
    assert subscription.ledger_entries.count() == 1
