"""Hard bounces and complaints suppress for good; soft bounces and blocks only for a while."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from outreach.models import EmailOutbox, Suppression
from outreach.selectors import is_suppressed

pytestmark = pytest.mark.django_db

URL = "/anymail/sendgrid/tracking/"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADDRESS = "ada@example.com"
AUTH = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"hook:test-secret").decode()}


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.EMAIL_SOFT_BOUNCE_LIMIT = 3
    settings.EMAIL_SOFT_BOUNCE_WINDOW = timedelta(days=7)
    settings.EMAIL_SOFT_BOUNCE_SUPPRESSION = timedelta(days=3)


def sendgrid_event(kind, when, n, **extra):
    return {
        "event": kind,
        "email": ADDRESS,
        "timestamp": int(when.timestamp()),
        "sg_event_id": f"{kind}-{n}",
        "anymail_id": f"msg-{n}",
        **extra,
    }


def post(client, events):
    response = client.post(URL, data=json.dumps(events), content_type="application/json", **AUTH)
    assert response.status_code == 200, response.content


def blocked(n, when):
    return sendgrid_event("bounce", when, n, type="blocked", reason="IP on a block list")


def test_one_block_does_not_suppress(client):
    with time_machine.travel(T0, tick=False):
        post(client, [blocked(1, T0)])
        assert not is_suppressed(ADDRESS)


def test_blocks_up_to_the_limit_suppress_every_category_for_a_while(client):
    with time_machine.travel(T0, tick=False):
        post(client, [blocked(n, T0 + timedelta(hours=n)) for n in range(3)])
        assert is_suppressed(ADDRESS)
        assert is_suppressed(ADDRESS, "transactional")
        suppression = Suppression.objects.get(address=ADDRESS)
        assert suppression.expires_at == T0 + timedelta(hours=2, days=3)


def test_a_temporary_suppression_expires_by_itself(client):
    with time_machine.travel(T0, tick=False):
        post(client, [blocked(n, T0) for n in range(3)])
    with time_machine.travel(T0 + timedelta(days=3, minutes=1), tick=False):
        assert not is_suppressed(ADDRESS)


def test_deferrals_count_toward_the_temporary_suppression(client):
    with time_machine.travel(T0, tick=False):
        post(
            client, [sendgrid_event("deferred", T0, n, response="421 try later") for n in range(3)]
        )
        assert is_suppressed(ADDRESS)
        assert Suppression.objects.get(address=ADDRESS).expires_at is not None


def test_soft_bounces_outside_the_window_do_not_add_up(client):
    with time_machine.travel(T0 + timedelta(days=20), tick=False):
        post(client, [blocked(n, T0 + timedelta(days=8 * n)) for n in range(3)])
        assert not is_suppressed(ADDRESS)


def test_a_hard_bounce_after_a_temporary_suppression_makes_it_permanent(client):
    with time_machine.travel(T0, tick=False):
        post(client, [blocked(n, T0) for n in range(3)])
        post(client, [sendgrid_event("bounce", T0, 9, type="bounce", reason="550 no such user")])
    with time_machine.travel(T0 + timedelta(days=30), tick=False):
        assert is_suppressed(ADDRESS)
        assert Suppression.objects.get(address=ADDRESS).expires_at is None


def test_blocks_after_a_hard_bounce_leave_it_permanent(client):
    with time_machine.travel(T0, tick=False):
        post(client, [sendgrid_event("bounce", T0, 9, type="bounce", reason="550 no such user")])
        post(client, [blocked(n, T0) for n in range(3)])
        assert Suppression.objects.get(address=ADDRESS).expires_at is None


def test_a_complaint_suppresses_for_good(client):
    with time_machine.travel(T0, tick=False):
        post(client, [sendgrid_event("spamreport", T0, 1)])
    with time_machine.travel(T0 + timedelta(days=365), tick=False):
        assert is_suppressed(ADDRESS)


def test_the_relay_sends_again_once_a_temporary_suppression_expired(client, enqueue, sendgrid):
    from outreach.services.relay import outbox_drain

    with time_machine.travel(T0, tick=False):
        post(client, [blocked(n, T0) for n in range(3)])
    with time_machine.travel(T0 + timedelta(days=4), tick=False):
        row = enqueue(recipient=ADDRESS)
        outbox_drain()
    row.refresh_from_db()
    assert row.status == EmailOutbox.Status.SENT
