"""The admin's list of Stripe events: filtered by state, and "Process again" for the events
that need attention, allowed only with the billing.process_stripe_event permission."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import CreditLedgerEntry, StripeEvent
from tests.billing.conftest import stripe_event, utc
from tests.billing.invoices import invoice, one_off_line, stripe_subscription

CHANGELIST = "/admin/billing/stripeevent/"
START, END = utc(2026, 11, 15, 9), utc(2026, 12, 15, 9)
NOW = utc(2026, 11, 15, 10)


@pytest.fixture(autouse=True)
def frozen_clock(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def waiting_event(post_event, linked_monthly, settings):
    """An invoice whose period only Stripe can tell, received while no key was configured."""
    linked_monthly(utc(2026, 10, 15, 9))
    settings.STRIPE_SECRET_KEY = ""
    obj = invoice("sub_1", [one_off_line("sub_1", at=utc(2026, 11, 20, 9))], created=NOW)
    event = stripe_event("invoice.paid", obj, created=NOW)
    assert post_event(event).status_code == 200
    return StripeEvent.objects.get(event_id=event["id"])


def process_again(client, *events):
    return client.post(
        CHANGELIST,
        {"action": "process_again", "_selected_action": [e.pk for e in events]},
        follow=True,
    )


def test_the_list_can_be_filtered_to_the_events_needing_attention(admin_client, waiting_event):
    done = StripeEvent.objects.create(event_id="evt_done", type="invoice.paid", created=NOW)
    page = admin_client.get(CHANGELIST, {"state__exact": "needs_attention"}).content.decode()
    assert f"/{waiting_event.pk}/change/" in page
    assert "STRIPE_SECRET_KEY is not configured" in page
    assert f"/{done.pk}/change/" not in page


def test_the_list_can_be_filtered_to_ignored_events(admin_client, db):
    ignored = StripeEvent.objects.create(
        event_id="evt_stranger",
        type="invoice.paid",
        created=NOW,
        state="ignored",
        outcome="ignored: subscription sub_x belongs to no Proletto user",
    )
    StripeEvent.objects.create(event_id="evt_done", type="invoice.paid", created=NOW)
    page = admin_client.get(CHANGELIST, {"state__exact": "ignored"}).content.decode()
    assert f"/{ignored.pk}/change/" in page
    assert "belongs to no Proletto user" in page
    assert "evt_done" not in page


def test_process_again_applies_the_event_once_the_cause_is_fixed(
    admin_client, waiting_event, fake_stripe
):
    fake_stripe.add_subscription(stripe_subscription("sub_1", start=START, end=END))
    response = process_again(admin_client, waiting_event)
    assert "Processed 1 event(s) again; 0 still need attention." in response.content.decode()
    waiting_event.refresh_from_db()
    assert (waiting_event.state, waiting_event.payload) == ("processed", None)
    assert CreditLedgerEntry.objects.get().period_start == START


def test_process_again_while_the_cause_remains_keeps_it_waiting(admin_client, waiting_event):
    response = process_again(admin_client, waiting_event)
    assert "1 still need attention" in response.content.decode()
    waiting_event.refresh_from_db()
    assert (waiting_event.state, waiting_event.attempts) == ("needs_attention", 2)
    assert not CreditLedgerEntry.objects.exists()


def test_staff_without_the_permission_cannot_process_again(
    client, django_user_model, waiting_event, fake_stripe
):
    fake_stripe.add_subscription(stripe_subscription("sub_1", start=START, end=END))
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_stripeevent"))
    client.force_login(viewer)
    assert client.get(CHANGELIST).status_code == 200
    process_again(client, waiting_event)
    waiting_event.refresh_from_db()
    assert waiting_event.state == "needs_attention"
    assert fake_stripe.requests == []


def test_the_list_makes_the_same_queries_for_3_or_30_events(admin_client, db):
    def queries():
        with CaptureQueriesContext(connection) as context:
            assert admin_client.get(CHANGELIST).status_code == 200
        return len(context.captured_queries)

    def add(n):
        for i in range(n):
            StripeEvent.objects.create(
                event_id=f"evt_{StripeEvent.objects.count()}_{i}", type="invoice.paid", created=NOW
            )

    add(3)
    few = queries()
    add(27)
    assert queries() == few
