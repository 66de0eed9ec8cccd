"""Drill 3: the ESP fails 30 % of requests (500, 503, timeouts, dropped connections) while
5,000 emails go out through two relay processes: every email is sent exactly once, or is
dead with a reason; none is left behind."""

import signal
import time

import pytest

from outreach.models import EmailOutbox
from outreach.testing.fake_sendgrid import FakeSendGrid
from tests.drills.relay_drill import queue_emails
from tests.outreach.processes import manage

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EMAILS = 5000
DEADLINE_SECONDS = 300


def test_two_relays_deliver_every_email_once_through_an_esp_failing_30_percent():
    queue_emails(EMAILS)
    with FakeSendGrid(failure_rate=0.3, seed=3, hang_seconds=2.0) as esp:
        relays = [
            manage(
                "process_outbox",
                "--loop",
                "--idle-seconds=0.5",
                "--batch-size=100",
                "--concurrency=8",
                EMAIL_ESP="sendgrid",
                SENDGRID_API_KEY="SG.drill",
                SENDGRID_API_URL=esp.api_url,
                EMAIL_TIMEOUT=1,  # shorter than a hang: the relay gives up first
                EMAIL_RETRY_BASE_SECONDS=0.2,
                EMAIL_RETRY_CAP_SECONDS=2,
                EMAIL_MAX_ATTEMPTS=8,
                # Timeouts and drops are ambiguous sends; this fake ESP sends no events for
                # them, so they are resent once this short settling delay has passed.
                EMAIL_AMBIGUOUS_SETTLE_SECONDS=1,
            )
            for _ in range(2)
        ]
        try:
            deadline = time.monotonic() + DEADLINE_SECONDS
            pending = EMAILS
            while time.monotonic() < deadline:
                pending = EmailOutbox.objects.exclude(
                    status__in=[EmailOutbox.Status.SENT, EmailOutbox.Status.DEAD]
                ).count()
                if pending == 0:
                    break
                time.sleep(1)  # polling real processes, not waiting for a clock
        finally:
            for relay in relays:
                relay.send_signal(signal.SIGTERM)
            outputs = [relay.communicate(timeout=60) for relay in relays]
        accepted = esp.accepted_outbox_ids()
        failures = dict(esp.failures)

    for relay, (_out, err) in zip(relays, outputs, strict=True):
        assert relay.returncode == 0, err[-2000:]
    assert pending == 0, f"{pending} emails still pending after {DEADLINE_SECONDS} s"
    assert sum(failures.values()) >= 0.2 * EMAILS, failures  # the ESP really was flaky
    sent = {
        str(pk) for pk in EmailOutbox.objects.filter(status="sent").values_list("id", flat=True)
    }
    assert set(accepted) == sent  # every sent row reached the ESP; nothing else did
    assert set(accepted.values()) == {1}  # and exactly once
    dead = EmailOutbox.objects.filter(status="dead")
    assert all(row.last_error for row in dead)
    assert len(sent) + dead.count() == EMAILS
