"""The artists' loop in a real browser at 375 px: the public page invites to the digest, /pro/
starts Stripe Checkout (the local stand-in, which posts the signed webhook), the artist is
Pro, the weekly run queues their digest, its "Manage preferences" link changes their mediums,
and the following digest reflects it."""

import datetime as dt
import re

import pytest
import time_machine

from billing.models import Plan, Subscription
from billing.selectors import user_is_pro
from billing.testing.fake_stripe import FakeStripe
from digests.models import DigestEmail
from digests.services.digest import digests_send_due
from digests.tokens import unsubscribe_token
from outreach.models import EmailOutbox
from proletto.inbox.services import inbox_process
from proletto.models import User
from proletto.preferences_link import preferences_url
from tests.digests.digest_data import opportunity

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 375, "height": 812}


def next_monday_utc(hour: int) -> dt.datetime:
    today = dt.datetime.now(dt.UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return today + dt.timedelta(days=7 - today.weekday())


@pytest.fixture
def fake_stripe(live_server, settings):
    webhook = f"{live_server.url}/billing/stripe/webhook/"
    with FakeStripe(webhook_url=webhook, webhook_secret=settings.STRIPE_WEBHOOK_SECRET) as fake:
        settings.STRIPE_SECRET_KEY = "sk_test_fake"
        settings.STRIPE_API_BASE = fake.api_base
        settings.SITE_URL = live_server.url
        yield fake


def assert_fits_the_screen(page):
    # Nothing wider than a 375 px phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def digest_titles(user) -> set[str]:
    digest = DigestEmail.objects.filter(user=user).latest("week_start")
    return {item.opportunity.title for item in digest.items.select_related("opportunity")}


def test_from_the_public_page_to_pro_to_a_digest_whose_preferences_link_changes_the_next_one(
    page, live_server, fake_stripe, screenshot
):
    Plan.objects.create(code="free", name="Free", monthly_credits=3)
    Plan.objects.create(
        code="pro", name="Pro", monthly_credits=50, is_pro=True, stripe_price_ids=["price_pro"]
    )
    giulia = User.objects.create_user(
        username="giulia",
        email="giulia@artists.test",
        display_name="Giulia",
        mediums=["painting"],
        interests=[],
        country="IT",
        timezone="Europe/Rome",
    )
    first_monday = next_monday_utc(hour=9)  # 10:00 in Rome: the digest is due
    for medium in ("painting", "sculpture"):
        for n in range(3):
            opportunity(
                f"{medium.title()} call {n}",
                mediums=[medium],
                deadline=first_monday + dt.timedelta(days=40 + n),
                first_seen_at=first_monday - dt.timedelta(days=2),
                last_seen_at=first_monday - dt.timedelta(days=1),
            )
    page.set_viewport_size(PHONE)

    # The public page invites visitors to the weekly digest.
    page.goto(f"{live_server.url}/opportunities/")
    assert "Get the weekly digest" in page.inner_text("#get-the-digest")
    assert_fits_the_screen(page)
    screenshot("-1-opportunities")
    page.click("text=Get it with Proletto Pro")

    # /pro/ shows the plans from Plan and starts Checkout at the Stripe stand-in.
    page.wait_for_url(f"{live_server.url}/pro/")
    assert_fits_the_screen(page)
    screenshot("-2-pro")
    page.fill("#email-pro", "giulia@artists.test")
    page.click("text=Go Pro with Pro")
    page.wait_for_url(re.compile(re.escape(fake_stripe.url) + r"/checkout/cs_"))
    screenshot("-3-checkout")

    # Paying sends the signed checkout.session.completed to the webhook, then comes back.
    page.click("#pay")
    page.wait_for_url(re.compile(re.escape(live_server.url) + r"/pro/success/"))
    assert "you are going Pro" in page.inner_text("#success")
    assert_fits_the_screen(page)
    screenshot("-4-success")
    assert [d["status"] for d in fake_stripe.webhook_deliveries] == [200]
    inbox_process()  # the webhook stored the event; the inbox job applies it within a minute
    assert user_is_pro(giulia)
    assert Subscription.objects.get(user=giulia).stripe_subscription_id.startswith("sub_")

    # The next weekly run queues their digest.
    with time_machine.travel(first_monday, tick=True):
        assert digests_send_due()["queued"] == 1
        assert digest_titles(giulia) == {"Painting call 0", "Painting call 1", "Painting call 2"}
        email = EmailOutbox.objects.get(recipient="giulia@artists.test")
        page.set_content(email.body_html)
        assert_fits_the_screen(page)
        screenshot("-5-digest-email")

        # Its "Manage preferences" link changes their mediums.
        page.click("text=Manage email preferences")
        page.wait_for_selector("#preferences")
        assert "Pro" in page.inner_text("#subscriptions")
        assert_fits_the_screen(page)
        page.uncheck("input[name=mediums][value=painting]")
        page.check("input[name=mediums][value=sculpture]")
        page.click("#save")
        page.wait_for_selector("#saved")
        assert_fits_the_screen(page)
        screenshot("-6-preferences-saved")
    giulia.refresh_from_db()
    assert giulia.mediums == ["sculpture"]

    # The following digest reflects it.
    with time_machine.travel(first_monday + dt.timedelta(weeks=1), tick=True):
        assert digests_send_due()["queued"] == 1
    assert digest_titles(giulia) == {"Sculpture call 0", "Sculpture call 1", "Sculpture call 2"}


def test_the_checkout_cancel_page_fits_a_phone_and_leads_back_to_the_plans(
    page, live_server, screenshot
):
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/pro/cancel/")
    assert_fits_the_screen(page)
    screenshot()
    page.click("text=Back to the plans")
    page.wait_for_url(f"{live_server.url}/pro/")


def test_the_preferences_page_proposes_the_browsers_time_zone_and_the_artist_takes_it(
    chromium_browser, live_server, settings
):
    settings.SITE_URL = live_server.url
    aiko = User.objects.create_user(username="aiko", email="aiko@artists.test", timezone="UTC")
    context = chromium_browser.new_context(viewport=PHONE, timezone_id="Asia/Tokyo")
    page = context.new_page()
    try:
        page.goto(preferences_url(aiko.pk))
        assert "Your browser says Asia/Tokyo" in page.inner_text("#browser-zone")
        assert_fits_the_screen(page)
        page.click("#use-browser-zone")
        assert page.input_value("#id_timezone") == "Asia/Tokyo"
        page.click("#save")
        page.wait_for_selector("#saved")
    finally:
        context.close()
    aiko.refresh_from_db()
    assert aiko.timezone == "Asia/Tokyo"


def test_the_other_public_pages_fit_a_phone(page, live_server, settings, screenshot):
    settings.SITE_URL = live_server.url
    long_title = "An open call with a remarkably long title " * 3
    item = opportunity(long_title, description="Words " * 300, url="https://calls.example/x" * 5)
    lena = User.objects.create_user(username="lena", email="lena@artists.test")
    page.set_viewport_size(PHONE)
    pages = {
        "opportunity": f"/opportunities/{item.pk}/",
        "bad-link": "/preferences/1:abc:forged/",
        "unsubscribe": f"/unsubscribe/{unsubscribe_token(lena.pk)}/",
        "pro-no-plans": "/pro/",
    }
    for name, path in pages.items():
        page.goto(f"{live_server.url}{path}")
        assert_fits_the_screen(page)
        screenshot(f"-{name}")
