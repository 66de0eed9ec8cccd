"""Links in the rendered digest, followed as a reader would: parsed out of the real email."""

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail

from digests.models import DigestEmail, DigestItem
from digests.services.digest import digests_send_due
from outreach.models import EmailOutbox, Suppression
from outreach.services.relay import outbox_drain
from tests.digests.digest_data import NOW, artist, opportunity

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent_digest():
    for i in range(6):
        opportunity(f"Call {i} <script>alert(1)</script>")
    user = artist("giulia", display_name="Giulia <b>Bianchi</b>")
    digests_send_due(now=NOW)
    outbox_drain()
    return DigestEmail.objects.get(user=user), mail.outbox[0]


def links(message, pattern):
    html = message.alternatives[0][0]
    return [urlsplit(url).path for url in re.findall(r'href="([^"]+)"', html) if pattern in url]


def test_the_email_carries_one_click_unsubscribe_headers(sent_digest):
    digest, message = sent_digest
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(
        r"<http://127\.0\.0\.1:8000/unsubscribe/[^>]+/>", message.extra_headers["List-Unsubscribe"]
    )


def test_scraped_and_profile_text_is_escaped_in_the_html(sent_digest):
    _, message = sent_digest
    html = message.alternatives[0][0]
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "Giulia &lt;b&gt;Bianchi&lt;/b&gt;" in html


def test_a_click_link_redirects_to_the_opportunity_and_records_the_click(client, sent_digest):
    digest, message = sent_digest
    first_click = links(message, "/d/click/")[0]
    response = client.get(first_click)
    item = DigestItem.objects.get(digest=digest, position=1)
    assert response.status_code == 302
    assert response["Location"] == item.opportunity.url
    item.refresh_from_db()
    digest = DigestEmail.objects.with_delivery().get(pk=digest.pk)
    assert item.clicked_at is not None
    assert digest.clicked_at is not None and digest.opened_at is not None


def test_a_tampered_click_link_is_refused_and_redirects_nowhere(client, sent_digest):
    _, message = sent_digest
    response = client.get(links(message, "/d/click/")[0].replace("/d/click/", "/d/click/x"))
    assert response.status_code == 400
    assert "Location" not in response


def test_the_open_pixel_sets_opened_at_once(client, sent_digest):
    digest, message = sent_digest
    pixel = urlsplit(re.search(r'<img src="([^"]+)"', message.alternatives[0][0]).group(1)).path
    response = client.get(pixel)
    assert response["Content-Type"] == "image/gif"
    first_open = DigestEmail.objects.with_delivery().get(pk=digest.pk).opened_at
    assert first_open is not None
    client.get(pixel)
    assert DigestEmail.objects.with_delivery().get(pk=digest.pk).opened_at == first_open


def test_the_pixel_and_the_esps_open_event_keep_one_first_open(client, sent_digest):
    import datetime as dt

    import time_machine

    from outreach.services.events import outbox_record_event

    digest, message = sent_digest
    pixel = urlsplit(re.search(r'<img src="([^"]+)"', message.alternatives[0][0]).group(1)).path
    with time_machine.travel(NOW + dt.timedelta(hours=2), tick=False):
        client.get(pixel)
    outbox_record_event(
        esp_name="sendgrid",
        event_type="opened",
        event_id="open-1",
        occurred_at=NOW + dt.timedelta(hours=1),
        message_id=None,
        recipient="giulia@artists.test",
        outbox_id=str(digest.outbox_id),
    )
    digest = DigestEmail.objects.with_delivery().select_related("outbox").get(pk=digest.pk)
    assert digest.opened_at == digest.outbox.opened_at == NOW + dt.timedelta(hours=1)


def test_unsubscribe_link_shows_a_confirmation_and_changes_nothing_on_get(client, sent_digest):
    digest, message = sent_digest
    response = client.get(links(message, "/unsubscribe/")[0])
    assert response.status_code == 200
    assert b"Unsubscribe from the weekly digest?" in response.content
    digest.user.refresh_from_db()
    assert digest.user.unsubscribed_at is None


def test_one_click_unsubscribe_post_needs_no_login_or_csrf(sent_digest):
    from django.test import Client

    digest, message = sent_digest
    url = urlsplit(message.extra_headers["List-Unsubscribe"].strip("<>")).path
    response = Client(enforce_csrf_checks=True).post(
        url, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    digest.user.refresh_from_db()
    assert digest.user.unsubscribed_at is not None
    # One consent model: the digest's unsubscribe stops every marketing category.
    assert Suppression.objects.filter(
        address="giulia@artists.test", category=Suppression.MARKETING
    ).exists()


def test_an_unsubscribed_artist_gets_no_next_digest(client, sent_digest):
    digest, message = sent_digest
    client.post(links(message, "/unsubscribe/")[0])
    import datetime as dt

    digests_send_due(now=NOW + dt.timedelta(days=7))
    assert DigestEmail.objects.filter(user=digest.user).count() == 1


def test_unsubscribing_cancels_a_digest_still_waiting_in_the_outbox(client):
    for i in range(3):
        opportunity(f"Call {i}")
    artist("waiting")
    digests_send_due(now=NOW)
    outbox = EmailOutbox.objects.get()
    url = re.search(r"(/unsubscribe/[^/]+/)", outbox.body_text).group(1)
    client.post(url)
    outbox.refresh_from_db()
    assert outbox.status == EmailOutbox.Status.CANCELLED


def test_a_forged_unsubscribe_token_is_refused_and_changes_nothing(client, sent_digest):
    digest, _ = sent_digest
    response = client.post("/unsubscribe/not-a-token/")
    assert response.status_code == 400
    digest.user.refresh_from_db()
    assert digest.user.unsubscribed_at is None


def test_the_view_all_link_lands_on_the_open_opportunities_page(client, sent_digest):
    _, message = sent_digest
    (view_all,) = links(message, "/opportunities/")
    response = client.get(view_all)
    assert response.status_code == 200
    assert b"6 open opportunities" in response.content
