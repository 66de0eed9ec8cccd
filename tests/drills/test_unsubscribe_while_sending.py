"""Drill: artists click one-click unsubscribe while a relay process is sending them marketing.

A real `process_outbox` relay sends upsell, digest and transactional email through the fake
SendGrid; meanwhile half of the artists unsubscribe (RFC 8058 POST, no login, no CSRF token).
At the far end: no marketing email to an artist who unsubscribed reaches the ESP unless the
relay had claimed it before the unsubscribe committed (it was already on its way); their
transactional email still arrives; nobody else loses anything.
"""

import os
import signal
import time

import pytest
from django.test import Client
from django.utils import timezone

from digests.tokens import unsubscribe_token
from outreach.consent import marketing_extras
from outreach.models import Category, EmailOutbox
from outreach.testing.fake_sendgrid import FakeSendGrid
from proletto.models import User
from tests.drills.scheduler_drill import record_figures
from tests.outreach.processes import manage

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The suite runs 200 artists; the README figure comes from DRILL_UNSUBSCRIBE_USERS=1000.
USERS = int(os.environ.get("DRILL_UNSUBSCRIBE_USERS", "200"))
CATEGORIES = (Category.UPSELL, Category.DIGEST, Category.TRANSACTIONAL)
DEADLINE_SECONDS = 300


def queue_everything() -> list[User]:
    users = User.objects.bulk_create(
        User(username=f"artist{i}", email=f"artist{i}@artists.example") for i in range(USERS)
    )
    now = timezone.now()
    rows = []
    for user in users:
        _, headers = marketing_extras(user_id=user.pk)
        for category in CATEGORIES:
            rows.append(
                EmailOutbox(
                    recipient=user.email,
                    user=user,
                    subject=f"{category} for {user.username}",
                    body_text="Hello",
                    headers=headers if category != Category.TRANSACTIONAL else {},
                    category=category,
                    idempotency_key=f"drill:{category}:{user.pk}",
                    next_attempt_at=now,
                )
            )
    EmailOutbox.objects.bulk_create(rows, batch_size=1000)
    return users


def test_no_marketing_leaves_after_the_unsubscribe_commits_and_receipts_still_do():
    users = queue_everything()
    # The last artists in the queue leave first, so most leave while their email still waits.
    leaving = users[::-2]
    client = Client(enforce_csrf_checks=True)
    with FakeSendGrid(latency=0.05) as esp:
        relay = manage(
            "process_outbox",
            "--loop",
            "--idle-seconds=0.5",
            "--batch-size=50",
            "--concurrency=4",
            EMAIL_ESP="sendgrid",
            SENDGRID_API_KEY="SG.drill",
            SENDGRID_API_URL=esp.api_url,
        )
        try:
            deadline = time.monotonic() + DEADLINE_SECONDS
            while len(esp.accepted) < USERS // 2 and time.monotonic() < deadline:
                time.sleep(0.05)  # polling a real process, not waiting for a clock
            unsubscribed_at = {}
            for user in leaving:
                response = client.post(
                    f"/unsubscribe/{unsubscribe_token(user.pk)}/",
                    data="List-Unsubscribe=One-Click",
                    content_type="application/x-www-form-urlencoded",
                )
                assert response.status_code == 200
                unsubscribed_at[user.pk] = time.monotonic()
            while time.monotonic() < deadline:
                due = EmailOutbox.objects.filter(
                    status__in=[*EmailOutbox.DUE_STATUSES, EmailOutbox.Status.SENDING]
                ).count()
                if due == 0:
                    break
                time.sleep(0.5)
        finally:
            relay.send_signal(signal.SIGTERM)
            _out, err = relay.communicate(timeout=60)
        accepted = {item["outbox_id"]: item["at"] for item in esp.accepted}

    assert relay.returncode == 0, err[-2000:]
    assert due == 0
    rows = {row.pk: row for row in EmailOutbox.objects.select_related("user")}
    leaving_ids = {user.pk for user in leaving}
    late, stopped, sent_before, in_flight_seconds = [], 0, 0, []
    for row in rows.values():
        reached_esp = str(row.pk) in accepted
        if row.category == Category.TRANSACTIONAL or row.user_id not in leaving_ids:
            assert reached_esp and row.status == "sent", (row.pk, row.status, row.last_error)
            continue
        if not reached_esp:
            assert row.status in ("cancelled", "suppressed"), (row.pk, row.status)
            stopped += 1
            continue
        # Sent to someone who left: only if the relay had claimed it before they left.
        if row.claimed_at >= row.user.unsubscribed_at:
            late.append(row.pk)
        if accepted[str(row.pk)] > unsubscribed_at[row.user_id]:
            in_flight_seconds.append(accepted[str(row.pk)] - unsubscribed_at[row.user_id])
        else:
            sent_before += 1
    assert late == []
    assert stopped > 0  # the unsubscribes really raced the relay
    figures = {
        "users": USERS,
        "unsubscribed": len(leaving),
        "marketing_of_leavers": 2 * len(leaving),
        "stopped": stopped,
        "sent_before_the_click": sent_before,
        "claimed_before_the_click_sent_after": len(in_flight_seconds),
        "sent_after_unsubscribe_committed": len(late),
        "longest_of_those_after_the_click_s": round(max(in_flight_seconds, default=0), 3),
    }
    record_figures("unsubscribe_while_sending", figures)
