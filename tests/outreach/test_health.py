"""outreach/health.py: the outbox and relay checks, the status tile, alerts by email."""

import datetime as dt

import pytest
import time_machine

from outreach import health as checks
from outreach.models import Category, EmailOutbox
from proletto.models import CheckStatus

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
OK, WARNING, FAILING = CheckStatus.OK, CheckStatus.WARNING, CheckStatus.FAILING


def by_name(results):
    return {r.name: r for r in results}


def email(n, **fields):
    defaults = {
        "recipient": f"r{n}@example.com",
        "subject": "s",
        "category": Category.TRANSACTIONAL,
        "idempotency_key": f"k{n}",
        "next_attempt_at": NOW,
    }
    return EmailOutbox.objects.create(**{**defaults, **fields})


# --- the outbox ---------------------------------------------------------------------------------


def test_outbox_backlog_states_follow_the_oldest_due_email():
    email(1, next_attempt_at=NOW - dt.timedelta(minutes=5))
    assert by_name(checks.check_outbox(NOW))["outbox backlog"].status == OK
    email(2, next_attempt_at=NOW - dt.timedelta(minutes=20))
    assert by_name(checks.check_outbox(NOW))["outbox backlog"].status == WARNING
    email(3, next_attempt_at=NOW - dt.timedelta(hours=2))
    result = by_name(checks.check_outbox(NOW))["outbox backlog"]
    assert result.status == FAILING
    assert result.summary == "3 email(s) due; the oldest has waited 120 min"


def test_dead_emails_of_the_last_day_warn_then_fail(settings):
    settings.HEALTH_DEAD_EMAILS_FAILING = 3
    with time_machine.travel(NOW, tick=False):
        email(1, status=EmailOutbox.Status.DEAD)
        assert by_name(checks.check_outbox(NOW))["dead emails (24 h)"].status == WARNING
        email(2, status=EmailOutbox.Status.DEAD)
        email(3, status=EmailOutbox.Status.DEAD)
        assert by_name(checks.check_outbox(NOW))["dead emails (24 h)"].status == FAILING
    assert (
        by_name(checks.check_outbox(NOW + dt.timedelta(days=2)))["dead emails (24 h)"].status == OK
    )


def test_bounce_rate_states(settings):
    settings.HEALTH_BOUNCE_MIN_SENT = 10
    for n in range(100):
        email(n, status=EmailOutbox.Status.SENT, sent_at=NOW, next_attempt_at=None)
    name = "bounces and complaints (24 h)"
    assert by_name(checks.check_outbox(NOW))[name].status == OK
    EmailOutbox.objects.filter(
        pk__in=list(EmailOutbox.objects.values_list("pk", flat=True)[:3])
    ).update(bounced_at=NOW)
    assert by_name(checks.check_outbox(NOW))[name].status == WARNING
    EmailOutbox.objects.filter(
        pk__in=list(EmailOutbox.objects.values_list("pk", flat=True)[3:6])
    ).update(complained_at=NOW)
    result = by_name(checks.check_outbox(NOW))[name]
    assert result.status == FAILING and result.value == "6.0%"


def test_bounce_rate_is_not_judged_on_a_handful_of_emails():
    email(1, status=EmailOutbox.Status.SENT, sent_at=NOW, bounced_at=NOW, next_attempt_at=None)
    assert by_name(checks.check_outbox(NOW))["bounces and complaints (24 h)"].status == OK


def test_an_email_sending_past_its_claim_fails_the_relay_check(settings):
    settings.EMAIL_CLAIM_TIMEOUT_SECONDS = 900
    email(1, status=EmailOutbox.Status.SENDING, claimed_at=NOW - dt.timedelta(minutes=10))
    name = "outbox sending past its claim"
    assert by_name(checks.check_outbox_relay(NOW))[name].status == OK
    email(2, status=EmailOutbox.Status.SENDING, claimed_at=NOW - dt.timedelta(minutes=16))
    result = by_name(checks.check_outbox_relay(NOW))[name]
    assert result.status == FAILING and result.value == "1"


def test_retries_due_and_not_taken_warn_then_fail(settings):
    settings.HEALTH_OUTBOX_DUE_RETRY_WARNING = 2
    settings.HEALTH_OUTBOX_DUE_RETRY_FAILING = 3
    late = NOW - dt.timedelta(minutes=6)
    email(1, status=EmailOutbox.Status.RETRY, next_attempt_at=NOW - dt.timedelta(minutes=1))
    email(2, status=EmailOutbox.Status.RETRY, next_attempt_at=NOW + dt.timedelta(hours=1))
    email(3, status=EmailOutbox.Status.RETRY, next_attempt_at=late)
    assert by_name(checks.check_outbox_relay(NOW))["outbox retries due"].status == OK
    email(4, status=EmailOutbox.Status.RETRY, next_attempt_at=late)
    assert by_name(checks.check_outbox_relay(NOW))["outbox retries due"].status == WARNING
    email(5, status=EmailOutbox.Status.RETRY, next_attempt_at=late)
    assert by_name(checks.check_outbox_relay(NOW))["outbox retries due"].status == FAILING


def test_the_esp_error_rate_counts_timeouts_of_the_last_minutes(settings):
    settings.HEALTH_ESP_MIN_SENDS = 10
    settings.HEALTH_ESP_WINDOW_MINUTES = 15
    name = "ESP errors (15 min)"
    with time_machine.travel(NOW, tick=False):
        for n in range(18):
            email(n, status=EmailOutbox.Status.SENT, sent_at=NOW, next_attempt_at=None)
        email(100, status=EmailOutbox.Status.RETRY, last_error="ambiguous: no answer in 20 s")
        assert by_name(checks.check_outbox_relay(NOW))[name].status == WARNING
        email(101, status=EmailOutbox.Status.RETRY, last_error="ambiguous: dropped")
        email(102, status=EmailOutbox.Status.DEAD, last_error="rejected: 400")
        email(103, status=EmailOutbox.Status.RETRY, last_error="503 Service Unavailable")
        email(104, status=EmailOutbox.Status.RETRY, last_error="503 Service Unavailable")
        email(105, status=EmailOutbox.Status.RETRY, last_error="503 Service Unavailable")
        result = by_name(checks.check_outbox_relay(NOW))[name]
    assert result.status == FAILING
    assert result.summary == (
        "6 of 24 sends failed in the last 15 min (2 timed out or dropped), 25.0%"
    )
    later = NOW + dt.timedelta(minutes=16)
    assert by_name(checks.check_outbox_relay(later))[name].status == OK


def test_the_status_page_shows_the_outbox_tile_outreach_declares(admin_client):
    email(1, status=EmailOutbox.Status.RETRY)
    email(2, status=EmailOutbox.Status.DEAD)
    email(3)
    page = admin_client.get("/admin/system/status/").content.decode()
    tile = page[page.index('id="tile-outbox"') :]
    assert "2 waiting" in tile[:200] and "1 to retry · 1 dead" in tile[:400]
