"""An ESP's inbound webhook goes through the inbox too: the multipart request is kept as it
came and parsed by Anymail when applied."""

import base64

import pytest
from anymail.signals import inbound

from proletto.inbox.services import inbox_process
from proletto.models import InboundEvent

pytestmark = pytest.mark.django_db

RAW = (
    "From: Ada <ada@example.com>\r\nTo: hello@proletto.example\r\n"
    "Subject: A question about the residency\r\n\r\nIs it open to painters?\r\n"
)
AUTH = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"hook:test-secret").decode()}


@pytest.fixture
def received():
    messages = []

    def receiver(sender, event, esp_name, **kwargs):
        messages.append((esp_name, event.message))

    inbound.connect(receiver, weak=False, dispatch_uid="test-inbound")
    yield messages
    inbound.disconnect(dispatch_uid="test-inbound")


def test_an_inbound_email_is_stored_then_parsed_by_anymail_when_applied(client, received):
    response = client.post(
        "/anymail/sendgrid/inbound/",
        {
            "email": RAW,
            "envelope": '{"to": ["hello@proletto.example"], "from": "ada@example.com"}',
        },
        **AUTH,
    )
    assert response.status_code == 200
    stored = InboundEvent.objects.get()
    assert (stored.source, stored.kind) == ("anymail:sendgrid:inbound", "inbound")
    assert stored.headers["CONTENT_TYPE"].startswith("multipart/form-data; boundary=")
    assert received == []  # nothing applied in the request

    inbox_process()
    stored.refresh_from_db()
    assert stored.state == "applied"
    [(esp_name, message)] = received
    assert (esp_name, message["Subject"]) == ("SendGrid", "A question about the residency")
    assert message.envelope_recipient == "hello@proletto.example"


def test_an_inbound_request_without_credentials_is_refused_and_not_stored(client, received):
    response = client.post("/anymail/sendgrid/inbound/", {"email": RAW})
    assert response.status_code == 403
    assert not InboundEvent.objects.exists()
