from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.sessions.models import Session

from outreach.models import EmailEvent, EmailOutbox, UpsellSequence, UpsellSession
from outreach.services.cleanup import outreach_cleanup

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
Status = EmailOutbox.Status


@pytest.fixture(autouse=True)
def retention(settings):
    settings.EMAIL_OUTBOX_BODY_RETENTION_DAYS = 14
    settings.EMAIL_OUTBOX_RETENTION_DAYS = 180


def outbox_row(enqueue, *, status, sent_days_ago=None, created_days_ago=0):
    row = enqueue()
    EmailOutbox.objects.filter(pk=row.pk).update(
        status=status,
        sent_at=NOW - timedelta(days=sent_days_ago) if sent_days_ago is not None else None,
        created_at=NOW - timedelta(days=created_days_ago),
    )
    row.refresh_from_db()
    return row


def test_it_deletes_only_expired_django_sessions():
    Session.objects.create(session_key="old", session_data="x", expire_date=NOW - timedelta(1))
    Session.objects.create(session_key="live", session_data="x", expire_date=NOW + timedelta(1))
    counts = outreach_cleanup(now=NOW)
    assert counts["django_sessions_deleted"] == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == ["live"]


def test_it_deletes_in_batches_and_counts_them_all():
    Session.objects.bulk_create(
        Session(session_key=f"s{i}", session_data="x", expire_date=NOW - timedelta(1))
        for i in range(25)
    )
    assert outreach_cleanup(now=NOW, batch_size=10)["django_sessions_deleted"] == 25
    assert not Session.objects.exists()


def test_it_drops_bodies_of_sent_emails_before_deleting_the_rows(enqueue):
    fresh = outbox_row(enqueue, status=Status.SENT, sent_days_ago=13)
    older = outbox_row(enqueue, status=Status.SENT, sent_days_ago=15)
    ancient = outbox_row(enqueue, status=Status.SENT, sent_days_ago=181)
    counts = outreach_cleanup(now=NOW)
    assert counts["outbox_bodies_dropped"] == 1
    assert counts["outbox_rows_deleted"] == 1
    fresh.refresh_from_db()
    older.refresh_from_db()
    assert fresh.body_text and fresh.body_html
    assert older.body_text == older.body_html == ""
    assert older.bodies_dropped_at == NOW
    assert older.subject  # the record of what was sent stays
    assert not EmailOutbox.objects.filter(pk=ancient.pk).exists()


def test_it_keeps_digest_emails_past_retention_without_their_bodies(enqueue):
    digest = outbox_row(lambda: enqueue(category="digest"), status=Status.SENT, sent_days_ago=400)
    counts = outreach_cleanup(now=NOW)
    assert counts["outbox_rows_deleted"] == 0
    digest.refresh_from_db()
    assert digest.bodies_dropped_at == NOW and digest.body_html == ""


def test_it_never_touches_emails_still_waiting_to_be_sent(enqueue):
    waiting = outbox_row(enqueue, status=Status.RETRY, created_days_ago=400)
    outreach_cleanup(now=NOW)
    waiting.refresh_from_db()
    assert waiting.body_text


def test_deleting_an_email_deletes_its_events(enqueue):
    row = outbox_row(enqueue, status=Status.SENT, sent_days_ago=200)
    EmailEvent.objects.create(
        esp_name="sendgrid", event_id="e1", event_type="delivered", occurred_at=NOW, outbox=row
    )
    outreach_cleanup(now=NOW)
    assert not EmailEvent.objects.exists()


def test_it_expires_upsell_sessions_past_their_deadline(django_user_model):
    user = django_user_model.objects.create_user(username="u", email="u@example.com")
    sequence = UpsellSequence.objects.create(code="s", name="S", duration=timedelta(days=14))
    past = UpsellSession.objects.create(
        user=user, sequence=sequence, started_at=NOW - timedelta(20), deadline=NOW - timedelta(6)
    )
    assert outreach_cleanup(now=NOW)["upsell_sessions_expired"] == 1
    past.refresh_from_db()
    assert past.status == UpsellSession.Status.EXPIRED


def test_the_job_returns_the_counts_and_leaves_the_log_line_to_the_runtime(caplog):
    import logging

    from outreach.jobs import cleanup_expired_sessions

    with caplog.at_level(logging.INFO):
        counts = cleanup_expired_sessions()
    assert counts["django_sessions_deleted"] == 0 and "outbox_rows_deleted" in counts
    assert [r for r in caplog.records if r.name.startswith("outreach")] == []


def test_it_deletes_temporary_suppressions_once_they_expired():
    from outreach.models import Suppression

    Suppression.objects.create(address="old@x.test", reason="soft", expires_at=NOW - timedelta(1))
    Suppression.objects.create(address="live@x.test", reason="soft", expires_at=NOW + timedelta(1))
    Suppression.objects.create(address="hard@x.test", reason="bounced")
    assert outreach_cleanup(now=NOW)["suppressions_expired_deleted"] == 1
    assert set(Suppression.objects.values_list("address", flat=True)) == {
        "live@x.test",
        "hard@x.test",
    }
