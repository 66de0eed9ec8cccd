import base64
import json
from datetime import UTC, datetime

import pytest

from outreach.models import EmailEvent, EmailOutbox, Suppression
from outreach.selectors import is_suppressed

pytestmark = pytest.mark.django_db

URL = "/anymail/sendgrid/tracking/"
T1 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
T2 = datetime(2026, 3, 2, 9, 5, tzinfo=UTC)
T3 = datetime(2026, 3, 2, 9, 10, tzinfo=UTC)


def auth(secret="hook:test-secret"):
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def event(kind, when, *, message_id="msg-1", event_id=None, email="ada@example.com", **extra):
    return {
        "event": kind,
        "email": email,
        "timestamp": int(when.timestamp()),
        "sg_event_id": event_id or f"{kind}-{int(when.timestamp())}",
        "sg_message_id": "sg.1",
        "anymail_id": message_id,
        **extra,
    }


def post(client, events, **headers):
    body = events if isinstance(events, str | bytes) else json.dumps(events)
    return client.post(URL, data=body, content_type="application/json", **(headers or auth()))


@pytest.fixture
def sent(enqueue):
    row = enqueue(recipient="ada@example.com")
    EmailOutbox.objects.filter(pk=row.pk).update(
        status=EmailOutbox.Status.SENT, esp_name="sendgrid", esp_message_id="msg-1"
    )
    row.refresh_from_db()
    return row


def test_a_delivered_event_marks_the_email_delivered(client, sent):
    assert post(client, [event("delivered", T1)]).status_code == 200
    sent.refresh_from_db()
    assert sent.delivery_status == "delivered"
    assert sent.delivered_at == T1


def test_opens_and_clicks_keep_the_first_time(client, sent):
    post(client, [event("open", T2), event("click", T3, url="https://proletto.example/x")])
    post(client, [event("open", T1), event("open", T3)])
    sent.refresh_from_db()
    assert sent.opened_at == T1
    assert sent.clicked_at == T3


def test_an_old_delivered_event_does_not_overwrite_a_newer_bounce(client, sent):
    post(client, [event("bounce", T2, reason="550 mailbox unknown")])
    post(client, [event("delivered", T1)])
    sent.refresh_from_db()
    assert sent.delivery_status == "bounced"
    assert sent.delivery_status_at == T2
    assert sent.delivered_at == T1


def test_events_in_order_leave_the_latest_state(client, sent):
    post(client, [event("deferred", T1), event("delivered", T2)])
    sent.refresh_from_db()
    assert sent.delivery_status == "delivered"


def test_a_duplicated_event_is_applied_once(client, sent):
    post(client, [event("delivered", T1, event_id="e-1")])
    post(client, [event("delivered", T1, event_id="e-1"), event("delivered", T1, event_id="e-1")])
    assert EmailEvent.objects.filter(event_id="e-1").count() == 1


def test_a_hard_bounce_suppresses_the_address(client, sent):
    post(client, [event("bounce", T1, reason="550 5.1.1 unknown user")])
    assert is_suppressed("ADA@example.com")
    assert "550 5.1.1 unknown user" in Suppression.objects.get().reason


def test_a_complaint_suppresses_the_address(client, sent):
    post(client, [event("spamreport", T1)])
    sent.refresh_from_db()
    assert sent.delivery_status == "complained"
    assert is_suppressed("ada@example.com", "digest")


def test_one_soft_bounce_does_not_suppress(client, sent):
    post(client, [event("deferred", T1)])
    assert not Suppression.objects.exists()


def test_an_unsubscribe_at_the_esp_stops_all_marketing_but_not_receipts(client, enqueue):
    row = enqueue(recipient="ada@example.com", category="upsell")
    EmailOutbox.objects.filter(pk=row.pk).update(esp_message_id="msg-1")
    post(client, [event("unsubscribe", T1)])
    assert is_suppressed("ada@example.com", "upsell")
    assert is_suppressed("ada@example.com", "digest")
    assert not is_suppressed("ada@example.com", "transactional")


def test_a_bad_secret_is_refused_and_changes_nothing(client, sent):
    response = post(client, [event("bounce", T1)], **auth("hook:wrong"))
    assert response.status_code == 403
    assert "authentication failed" in response.json()["error"]
    assert not EmailEvent.objects.exists()
    assert not Suppression.objects.exists()


def test_no_credentials_at_all_are_refused(client, sent):
    response = client.post(URL, data="[]", content_type="application/json")
    assert response.status_code == 403


def test_malformed_json_is_a_400_and_changes_nothing(client, sent, caplog):
    response = post(client, '[{"event": "delivered", ')
    assert response.status_code == 400
    assert response.json()["error"].startswith("malformed event payload")
    assert "malformed payload" in caplog.text
    assert not EmailEvent.objects.exists()


def test_a_batch_with_one_bad_event_changes_nothing(client, sent):
    good = event("bounce", T1)
    bad = {"email": "ada@example.com", "timestamp": "soon"}  # no event type
    response = post(client, [good, bad])
    assert response.status_code == 400
    assert not EmailEvent.objects.exists()
    assert not Suppression.objects.exists()


def test_an_event_for_an_unknown_message_is_kept_without_an_email(client, sent):
    assert post(client, [event("delivered", T1, message_id="someone-else")]).status_code == 200
    assert EmailEvent.objects.get().outbox is None
    sent.refresh_from_db()
    assert sent.delivery_status == ""


@pytest.fixture
def signing_key(settings):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    public_der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": base64.b64encode(public_der).decode(),
    }
    return private


def signed_headers(private_key, body: bytes, timestamp="1772442000"):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    signature = private_key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        **auth(),
        "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE": base64.b64encode(signature).decode(),
        "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP": timestamp,
    }


def test_a_correctly_signed_event_is_accepted_when_the_signing_key_is_set(
    client, sent, signing_key
):
    body = json.dumps([event("delivered", T1)]).encode()
    assert post(client, body, **signed_headers(signing_key, body)).status_code == 200
    sent.refresh_from_db()
    assert sent.delivery_status == "delivered"


def test_a_forged_signature_is_refused_and_changes_nothing(client, sent, signing_key):
    body = json.dumps([event("bounce", T1)]).encode()
    headers = signed_headers(signing_key, b"[]")  # signed for another body
    response = post(client, body, **headers)
    assert response.status_code == 403
    assert not EmailEvent.objects.exists()
    assert not Suppression.objects.exists()


def test_an_unsigned_event_is_refused_when_the_signing_key_is_set(client, sent, signing_key):
    assert post(client, [event("bounce", T1)]).status_code == 403
    assert not Suppression.objects.exists()


def test_an_event_that_beats_the_relays_bookkeeping_finds_its_email_by_metadata(client, enqueue):
    # The ESP reported delivery before the relay saved the message id of this email.
    row = enqueue(recipient="ada@example.com")
    post(client, [event("delivered", T1, message_id="not-saved-yet", outbox_id=str(row.pk))])
    row.refresh_from_db()
    assert row.delivered_at == T1
    assert EmailEvent.objects.get().outbox == row
