"""What the relay drills share: queued emails, relay processes behind a database proxy, the
ESP's count of copies per email, and the size of a drill (small in `make test`, the issue's
full size with RELAY_DRILL_FULL=1, as `make drills` sets it)."""

import base64
import json
import os
import signal
import subprocess
import time

from django.test import Client
from django.utils import timezone

from outreach.models import EmailOutbox
from outreach.testing.fake_sendgrid import FakeSendGrid
from proletto.inbox.services import inbox_process
from tests.outreach.processes import manage

FULL = os.environ.get("RELAY_DRILL_FULL", "").lower() in ("1", "true", "yes")
CONCURRENCY = 8
TRACKING_URL = "/anymail/sendgrid/tracking/"


def size(small: int, full: int) -> int:
    return full if FULL else small


def queue_emails(count: int, *, prefix: str = "drill") -> None:
    now = timezone.now()
    EmailOutbox.objects.bulk_create(
        (
            EmailOutbox(
                recipient=f"artist{i}@example.com",
                subject=f"Your opportunities #{i}",
                body_text="Hello",
                category="digest",
                idempotency_key=f"{prefix}:{i}",
                next_attempt_at=now,
            )
            for i in range(count)
        ),
        batch_size=1000,
    )


def start_relay(esp: FakeSendGrid, database_url: str, **env) -> subprocess.Popen:
    settings = {
        "EMAIL_ESP": "sendgrid",
        "SENDGRID_API_KEY": "SG.drill",
        "SENDGRID_API_URL": esp.api_url,
        "DATABASE_URL": database_url,
        "EMAIL_TIMEOUT": 5,
        "EMAIL_CLAIM_TIMEOUT_SECONDS": 30,
        "EMAIL_RETRY_BASE_SECONDS": 0.2,
        "EMAIL_RETRY_CAP_SECONDS": 2,
        "EMAIL_RELAY_CONCURRENCY": CONCURRENCY,
        **env,
    }
    return manage("process_outbox", "--loop", "--idle-seconds=0.2", **settings)


def stop_relays(relays: list[subprocess.Popen], timeout: float = 60) -> list[tuple[int, str]]:
    """SIGTERM every relay still running; (exit code, stderr) of each."""
    for relay in relays:
        if relay.poll() is None:
            relay.send_signal(signal.SIGTERM)
    outcomes = []
    for relay in relays:
        try:
            _out, err = relay.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            relay.kill()
            _out, err = relay.communicate()
            err += "\n(killed: did not stop within the timeout)"
        outcomes.append((relay.returncode, err))
    return outcomes


def pending() -> int:
    """Rows still to be sent (queued, waiting for a retry, or being sent)."""
    return EmailOutbox.objects.filter(
        status__in=[*EmailOutbox.DUE_STATUSES, EmailOutbox.Status.SENDING]
    ).count()


def sent_count() -> int:
    return EmailOutbox.objects.filter(status=EmailOutbox.Status.SENT).count()


def wait_until(predicate, *, timeout: float, what: str, every: float = 0.2) -> None:
    """Poll a condition other processes make true (never a clock)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def copies(esp: FakeSendGrid) -> dict:
    """The ESP's count: emails it got, copies beyond the first, emails it never got."""
    accepted = esp.accepted_outbox_ids()
    ids = {str(pk) for pk in EmailOutbox.objects.values_list("id", flat=True)}
    return {
        "emails": len(ids),
        "accepted": sum(accepted.values()),
        "duplicates": sum(count - 1 for count in accepted.values()),
        "most_copies": max(accepted.values(), default=0),
        "never_sent": len(ids - set(accepted)),
        "dead": EmailOutbox.objects.filter(status=EmailOutbox.Status.DEAD).count(),
    }


def post_tracking_events(events: list[dict]) -> None:
    """Deliver ESP events through the real webhook view, as SendGrid would, then apply them as
    the scheduler's process_inbox does within a minute (the webhook only stores them)."""
    if not events:
        return
    credentials = base64.b64encode(b"hook:test-secret").decode()
    response = Client().post(
        TRACKING_URL,
        data=json.dumps(events),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {credentials}",
    )
    assert response.status_code == 200, response.content[:500]
    inbox_process()
