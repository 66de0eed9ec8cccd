"""Drill 6: the database becomes unreachable while webhooks arrive. A real web server
(gunicorn) talks to PostgreSQL through a proxy that the drill stops: every ESP and Stripe
request is answered 5xx (so the sender retries, nothing is half-stored), and once the proxy
is back the retried requests are stored once and applied once. No event is lost.

INBOX_DRILL_BATCHES (default 12) sets how many requests arrive during the outage."""

import base64
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import requests

from billing.models import StripeEvent
from outreach.models import EmailEvent
from proletto.inbox.services import inbox_process
from proletto.models import InboundEvent
from tests.billing.conftest import stripe_signature
from tests.drills.scheduler_drill import record_figures
from tests.faults import DatabaseProxy
from tests.outreach.processes import ROOT
from tests.proletto.scheduler_processes import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BATCHES = int(os.environ.get("INBOX_DRILL_BATCHES", "12"))
EVENTS_PER_BATCH = 10
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ESP_AUTH = "Basic " + base64.b64encode(b"hook:test-secret").decode()


class WebServer:
    """gunicorn on 127.0.0.1:<free port>, its database through `database_url`."""

    def __init__(self, database_url: str, log_path):
        self.log_path = log_path
        self.log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "proletto.settings_test",
            "DATABASE_URL": database_url,
            "ALLOWED_HOSTS": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "proletto.wsgi",
                "--bind=127.0.0.1:0",
                "--workers=2",
                "--timeout=60",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        port = wait_for(self._port, timeout=60, what="gunicorn listening")
        self.url = f"http://127.0.0.1:{port}"

    def _port(self):
        assert self.process.poll() is None, self.log_path.read_text()
        match = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", self.log_path.read_text())
        return int(match.group(1)) if match else None

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def esp_batch(number: int) -> str:
    return json.dumps(
        [
            {
                "event": "delivered",
                "email": f"artist{number}@example.com",
                "timestamp": int((T0 + timedelta(seconds=number)).timestamp()),
                "sg_event_id": f"evt-{number}-{index}",
                "anymail_id": f"msg-{number}-{index}",
            }
            for index in range(EVENTS_PER_BATCH)
        ]
    )


def stripe_event(number: int) -> str:
    return json.dumps(
        {
            "id": f"evt_drill_{number}",
            "object": "event",
            "type": "charge.refunded",
            "created": int(T0.timestamp()),
            "data": {"object": {"id": f"ch_{number}"}},
        }
    )


def deliver(server: WebServer, number: int) -> int:
    """One ESP batch and one Stripe event, as their senders post them; the worse status."""
    esp = requests.post(
        f"{server.url}/anymail/sendgrid/tracking/",
        data=esp_batch(number),
        headers={"Content-Type": "application/json", "Authorization": ESP_AUTH},
        timeout=60,
    )
    payload = stripe_event(number)
    stripe = requests.post(
        f"{server.url}/billing/stripe/webhook/",
        data=payload,
        headers={"Content-Type": "application/json", "Stripe-Signature": stripe_signature(payload)},
        timeout=60,
    )
    return max(esp.status_code, stripe.status_code)


def test_webhooks_during_a_database_outage_are_refused_with_5xx_and_none_is_lost(tmp_path):
    with DatabaseProxy() as proxy:
        server = WebServer(proxy.database_url(), tmp_path / "gunicorn.log")
        try:
            assert deliver(server, 0) == 200  # before the outage

            proxy.stop()
            during = {number: deliver(server, number) for number in range(1, BATCHES + 1)}
            assert InboundEvent.objects.count() == 2  # batch 0's ESP and Stripe requests

            proxy.start()
            # The senders retry what was refused, and redeliver one that was stored.
            retried = {number: deliver(server, number) for number in [0, *during]}
        finally:
            server.stop()

    assert set(during.values()) <= set(range(500, 600)), during
    assert set(retried.values()) == {200}, retried
    counts = inbox_process()
    total = BATCHES + 1
    assert InboundEvent.objects.count() == 2 * total  # each request stored once
    assert counts["applied"] == 2 * total
    assert EmailEvent.objects.count() == total * EVENTS_PER_BATCH
    assert StripeEvent.objects.count() == total
    record_figures(
        "inbox_database_unreachable",
        {
            "requests_during_outage": 2 * BATCHES,
            "esp_events_during_outage": BATCHES * EVENTS_PER_BATCH,
            "requests_stored_after_retries": InboundEvent.objects.count(),
            "esp_events_applied": EmailEvent.objects.count(),
            "stripe_events_applied": StripeEvent.objects.count(),
        },
    )
