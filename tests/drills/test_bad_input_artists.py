"""Drill 5, the artists' side: forged and expired links and bad forms get a 4xx with a reason,
malformed checkout events are kept in the inbox unapplied with theirs, and a snapshot of every
other table shows that nothing changed."""

import datetime as dt
import json

import pytest
import time_machine
from django.test import Client

from proletto.inbox.services import inbox_process
from proletto.models import InboundEvent, User
from proletto.preferences_link import preferences_token
from tests.billing.conftest import stripe_event, stripe_signature
from tests.drills.test_bad_input_sweep import demo, snapshot  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

GOOD_FORM = {
    "mediums": ["painting"],
    "interests": "residency",
    "country": "IT",
    "timezone": "Europe/Rome",
    "digest": "on",
}


def giulia_token() -> str:
    return preferences_token(User.objects.get(username="giulia").pk)


def forged_token() -> str:
    value, timestamp, signature = giulia_token().split(":")
    other = User.objects.get(username="kwame").pk
    return f"{other}:{timestamp}:{signature}"


FORM_CASES = {
    "preferences, forged link": (lambda: f"/preferences/{forged_token()}/", GOOD_FORM),
    "preferences, garbage link": (lambda: "/preferences/nonsense/", GOOD_FORM),
    "preferences, unknown medium": (
        lambda: f"/preferences/{giulia_token()}/",
        {**GOOD_FORM, "mediums": ["painting", "finger-food"]},
    ),
    "preferences, unknown time zone": (
        lambda: f"/preferences/{giulia_token()}/",
        {**GOOD_FORM, "timezone": "Europe/Atlantis"},
    ),
    "preferences, unknown country": (
        lambda: f"/preferences/{giulia_token()}/",
        {**GOOD_FORM, "country": "ZZ"},
    ),
    "preferences, digest state unknown": (
        lambda: f"/preferences/{giulia_token()}/",
        {**GOOD_FORM, "digest": "sometimes"},
    ),
    "preferences, pause of -3 weeks": (
        lambda: f"/preferences/{giulia_token()}/",
        {**GOOD_FORM, "digest": "paused", "pause_weeks": "-3"},
    ),
    "manage billing, forged link": (lambda: f"/preferences/{forged_token()}/billing/", {}),
    "manage billing, no Stripe customer": (
        lambda: f"/preferences/{giulia_token()}/billing/",
        {},
    ),
    "pro, unknown plan": (lambda: "/pro/", {"plan": "platinum", "email": "a@artists.test"}),
    "pro, not an email": (lambda: "/pro/", {"plan": "pro", "email": "not an email"}),
    "pro, no plan": (lambda: "/pro/", {"email": "a@artists.test"}),
}


@pytest.mark.parametrize("case", list(FORM_CASES))
def test_a_bad_artist_form_or_link_gets_a_4xx_and_changes_nothing(demo, case):  # noqa: F811
    path, data = FORM_CASES[case]
    before = snapshot()
    response = Client().post(path(), data)
    assert 400 <= response.status_code < 500, response.status_code
    assert response.content.strip()
    assert snapshot() == before


def test_an_expired_preferences_link_changes_nothing(demo, settings):  # noqa: F811
    settings.PREFERENCES_LINK_MAX_AGE_DAYS = 30
    with time_machine.travel(dt.datetime.now(dt.UTC) - dt.timedelta(days=31)):
        token = giulia_token()
    before = snapshot()
    response = Client().post(f"/preferences/{token}/", GOOD_FORM)
    assert response.status_code == 400 and b"expired" in response.content
    assert snapshot() == before


def checkout(**fields) -> dict:
    session = {
        "id": "cs_bad",
        "object": "checkout.session",
        "mode": "subscription",
        "customer": "cus_bad",
        "subscription": "sub_bad",
        "client_reference_id": "1",
        "metadata": {"plan": "pro"},
    }
    session.update(fields)
    return session


CHECKOUT_CASES = {
    "no subscription id": checkout(subscription=None),
    "subscription id not a string": checkout(subscription=["sub_1"]),
    "no plan in metadata": checkout(metadata={}),
    "a plan that is not Pro": checkout(metadata={"plan": "free"}),
    "metadata not an object": checkout(metadata="pro"),
    "client_reference_id names nobody": checkout(client_reference_id="999999"),
    "client_reference_id not an id": checkout(client_reference_id="1 OR 1=1"),
    "no account and no email": checkout(client_reference_id=None),
}


@pytest.mark.parametrize("case", list(CHECKOUT_CASES))
def test_a_malformed_checkout_event_is_kept_unapplied_with_a_reason_and_changes_nothing(
    demo,  # noqa: F811
    case,
):
    # Since the webhook inbox (issue 24) a signed event is stored and answered 200 whatever its
    # payload; applying it then refuses with the reason, and nothing else changes.
    event = stripe_event(
        "checkout.session.completed", CHECKOUT_CASES[case], created=dt.datetime.now(dt.UTC)
    )
    payload = json.dumps(event)
    before = snapshot(exclude={InboundEvent._meta.db_table})
    response = Client().post(
        "/billing/stripe/webhook/",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": stripe_signature(payload)},
    )
    assert response.status_code == 200, response.content
    inbox_process()
    stored = InboundEvent.objects.get(pk=response.json()["id"])
    assert stored.state in ("rejected", "failed"), stored.outcome
    assert stored.last_error.strip()
    assert snapshot(exclude={InboundEvent._meta.db_table}) == before
