"""1,000 SendGrid events posted in 20 batches by 8 concurrent clients against a live server,
while two inbox processors apply them: every batch is stored once and applied once."""

import base64
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.db import connection

from outreach.models import EmailEvent, EmailOutbox
from proletto.inbox.services import inbox_process
from proletto.models import InboundEvent

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EMAILS, BATCHES, EVENTS_PER_BATCH, CLIENTS = 50, 20, 50, 8
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
AUTH = "Basic " + base64.b64encode(b"hook:test-secret").decode()


def batch(number: int) -> list[dict]:
    events = []
    for index in range(EVENTS_PER_BATCH):
        serial = number * EVENTS_PER_BATCH + index
        kind = ("delivered", "open", "click")[serial % 3]
        events.append(
            {
                "event": kind,
                "email": f"artist{serial % EMAILS}@example.com",
                "timestamp": int((T0 + timedelta(seconds=serial)).timestamp()),
                "sg_event_id": f"evt-{serial}",
                "anymail_id": f"msg-{serial % EMAILS}",
            }
        )
    return events


def test_1000_events_from_8_clients_are_stored_and_applied_once(live_server):
    EmailOutbox.objects.bulk_create(
        EmailOutbox(
            recipient=f"artist{i}@example.com",
            subject="s",
            category="transactional",
            idempotency_key=f"load:{i}",
            next_attempt_at=T0,
            status=EmailOutbox.Status.SENT,
            esp_name="sendgrid",
            esp_message_id=f"msg-{i}",
        )
        for i in range(EMAILS)
    )
    url = f"{live_server.url}/anymail/sendgrid/tracking/"
    posting_done = threading.Event()
    applied_by = []

    def post(number):
        response = requests.post(
            url,
            data=json.dumps(batch(number)),
            headers={"Content-Type": "application/json", "Authorization": AUTH},
            timeout=60,
        )
        return response.status_code

    def processor():
        applied = 0
        try:
            while True:
                finished = posting_done.is_set()
                counts = inbox_process(batch_size=3)
                applied += counts["applied"]
                if finished and not any(counts.values()):
                    break
        finally:
            connection.close()
            applied_by.append(applied)

    with ThreadPoolExecutor(max_workers=2) as processors:
        running = [processors.submit(processor) for _ in range(2)]
        with ThreadPoolExecutor(max_workers=CLIENTS) as clients:
            statuses = list(clients.map(post, range(BATCHES)))
        posting_done.set()
        for future in running:
            future.result(timeout=300)

    assert statuses == [200] * BATCHES
    stored = InboundEvent.objects.all()
    assert stored.count() == BATCHES
    assert set(stored.values_list("state", "attempts")) == {("applied", 1)}
    assert sum(applied_by) == BATCHES
    assert EmailEvent.objects.count() == BATCHES * EVENTS_PER_BATCH
    assert EmailEvent.objects.values("event_id").distinct().count() == BATCHES * EVENTS_PER_BATCH
    assert set(EmailOutbox.objects.values_list("delivery_status", flat=True)) == {"delivered"}
