"""One consent model for every marketing category: checked when queued and again when sent."""

import re
from datetime import UTC, datetime

import pytest
from django.test import Client

from digests.tokens import unsubscribe_token
from outreach.consent import marketing_extras
from outreach.errors import OutboxError
from outreach.models import MARKETING_CATEGORIES, Category, EmailOutbox, Suppression
from outreach.selectors import UNSUBSCRIBED
from outreach.services.outbox import outbox_enqueue
from outreach.services.relay import outbox_drain
from tests.outreach.conftest import make_pro

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Status = EmailOutbox.Status


def queue(user, category, key=None):
    context, headers = marketing_extras(user_id=user.pk)
    if category not in MARKETING_CATEGORIES:
        headers = {}
    return outbox_enqueue(
        recipient=user.email,
        template="upsell_welcome",
        context={"user": user, "deadline": T0, **context},
        headers=headers,
        category=category,
        idempotency_key=key or f"test:{category}:{user.pk}",
        user=user,
    )


def one_click(user, token=None):
    # As a mail provider sends it: no cookie, no CSRF token (RFC 8058 section 3.2).
    return Client(enforce_csrf_checks=True).post(
        f"/unsubscribe/{token or unsubscribe_token(user.pk)}/",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )


def test_digest_and_upsell_are_the_marketing_categories_and_alerts_are_not():
    assert MARKETING_CATEGORIES == {Category.DIGEST, Category.UPSELL}


def test_an_unsubscribed_user_gets_no_upsell_queued(artist):
    type(artist).objects.filter(pk=artist.pk).update(unsubscribed_at=T0)
    row = queue(artist, Category.UPSELL)
    assert row.status == Status.SUPPRESSED
    assert "unsubscribed" in row.last_error


def test_a_digest_suppression_stops_upsell_too(artist):
    Suppression.objects.create(
        address=artist.email, category=Suppression.MARKETING, reason="unsubscribed"
    )
    assert queue(artist, Category.UPSELL).status == Status.SUPPRESSED
    assert queue(artist, Category.DIGEST).status == Status.SUPPRESSED


def test_transactional_email_still_reaches_an_unsubscribed_user(artist):
    one_click(artist)
    assert queue(artist, Category.TRANSACTIONAL).status == Status.QUEUED
    assert queue(artist, Category.ALERT).status == Status.QUEUED


def test_one_click_unsubscribe_needs_no_login_nor_csrf_and_stops_all_marketing(artist):
    response = one_click(artist)
    assert response.status_code == 200
    artist.refresh_from_db()
    assert artist.unsubscribed_at is not None
    assert Suppression.objects.filter(address=artist.email, category="marketing").exists()
    assert queue(artist, Category.UPSELL, key="after:upsell").status == Status.SUPPRESSED
    assert queue(artist, Category.DIGEST, key="after:digest").status == Status.SUPPRESSED


def test_unsubscribing_cancels_queued_marketing_of_every_category_but_not_receipts(artist):
    upsell = queue(artist, Category.UPSELL)
    digest = queue(artist, Category.DIGEST)
    receipt = queue(artist, Category.TRANSACTIONAL)
    one_click(artist)
    statuses = dict(EmailOutbox.objects.values_list("pk", "status"))
    assert statuses == {
        upsell.pk: Status.CANCELLED,
        digest.pk: Status.CANCELLED,
        receipt.pk: Status.QUEUED,
    }


def test_a_forged_unsubscribe_token_is_refused_and_changes_nothing(artist):
    response = one_click(artist, token=unsubscribe_token(artist.pk) + "x")
    assert response.status_code == 400
    artist.refresh_from_db()
    assert artist.unsubscribed_at is None
    assert not Suppression.objects.exists()


def test_the_relay_drops_marketing_for_a_user_who_unsubscribed_after_it_was_queued(
    artist, sendgrid
):
    row = queue(artist, Category.UPSELL)
    # Only the user's flag: the send-time check must not depend on a suppression row.
    type(artist).objects.filter(pk=artist.pk).update(unsubscribed_at=T0)
    outbox_drain()
    row.refresh_from_db()
    assert row.status == Status.SUPPRESSED
    assert sendgrid.accepted == []


def test_the_relay_records_an_unsubscribe_as_the_reason_it_did_not_send(artist, sendgrid):
    row = queue(artist, Category.UPSELL)
    type(artist).objects.filter(pk=artist.pk).update(unsubscribed_at=T0)
    outbox_drain()
    row.refresh_from_db()
    assert row.last_error == UNSUBSCRIBED


def test_the_relay_drops_marketing_to_an_address_suppressed_for_marketing_after_queueing(
    artist, sendgrid
):
    row = queue(artist, Category.DIGEST)
    Suppression.objects.create(address=artist.email, category="marketing", reason="test")
    outbox_drain()
    row.refresh_from_db()
    assert row.status == Status.SUPPRESSED
    assert sendgrid.accepted == []


def test_the_relay_drops_an_upsell_step_queued_before_the_user_became_pro(artist, sendgrid):
    row = queue(artist, Category.UPSELL)
    make_pro(artist, anchor=T0)
    outbox_drain()
    row.refresh_from_db()
    assert row.status == Status.SUPPRESSED
    assert sendgrid.accepted == []


def test_the_relay_still_sends_transactional_email_to_an_unsubscribed_user(artist, sendgrid):
    row = queue(artist, Category.TRANSACTIONAL)
    type(artist).objects.filter(pk=artist.pk).update(unsubscribed_at=T0)
    outbox_drain()
    row.refresh_from_db()
    assert row.status == Status.SENT
    assert len(sendgrid.accepted) == 1


def test_a_marketing_email_without_one_click_headers_is_refused_when_queued(artist):
    with pytest.raises(OutboxError, match="List-Unsubscribe"):
        outbox_enqueue(
            recipient=artist.email,
            template="upsell_welcome",
            context={"user": artist, "deadline": T0},
            category=Category.UPSELL,
            idempotency_key="no-headers",
        )
    assert not EmailOutbox.objects.exists()


def test_marketing_extras_give_rfc8058_headers_and_a_preferences_slot(artist, settings):
    settings.SITE_URL = "https://proletto.example"
    context, headers = marketing_extras(user_id=artist.pk)
    url = f"https://proletto.example/unsubscribe/{unsubscribe_token(artist.pk)}/"
    assert context["unsubscribe_url"] == url
    assert "preferences_url" in context
    assert headers == {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_an_unsubscribe_at_the_esp_stops_all_marketing(client, artist):
    from outreach.services.events import outbox_record_event

    row = queue(artist, Category.DIGEST)
    outbox_record_event(
        esp_name="sendgrid",
        event_type="unsubscribed",
        event_id="u-1",
        occurred_at=T0,
        message_id=None,
        recipient=artist.email,
        outbox_id=str(row.pk),
    )
    assert Suppression.objects.filter(address=artist.email, category="marketing").exists()


def test_the_consent_check_costs_the_same_queries_for_10_or_200_rows(
    django_user_model, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from outreach.selectors import outbox_refusals

    users = [
        django_user_model.objects.create_user(username=f"a{i}", email=f"a{i}@artists.example")
        for i in range(200)
    ]
    rows = [
        EmailOutbox(recipient=u.email, user_id=u.pk, category=category)
        for u in users
        for category in (Category.UPSELL, Category.DIGEST, Category.TRANSACTIONAL)
    ]
    with CaptureQueriesContext(connection) as few:
        outbox_refusals(rows[:30])
    with django_assert_num_queries(len(few)):
        outbox_refusals(rows)


def test_every_upsell_email_shows_the_artists_own_preferences_link(artist):
    from outreach.services.outbox import email_render
    from proletto.preferences_link import read_preferences_token

    context, _ = marketing_extras(user_id=artist.pk)
    context = {"user": artist, "deadline": T0, "pro_url": "https://proletto.example/", **context}
    _, text, html = email_render(template="upsell_welcome", context=context)
    link = re.search(r"Manage email preferences: (\S+)", text).group(1)
    assert f'href="{link}"' in html
    assert read_preferences_token(link.rstrip("/").rsplit("/", 1)[1]) == artist.pk


def test_upsell_and_digest_sign_the_same_unsubscribe_token(artist):
    from outreach.consent import unsubscribe_token as outreach_token

    assert outreach_token(artist.pk) == unsubscribe_token(artist.pk)
