import pytest
from django.core import mail

from outreach import jobs
from proletto.scheduling.registry import declared_jobs


def test_the_three_outreach_jobs_are_declared_with_the_seed_schedules():
    declared = declared_jobs()
    intervals = {
        job_id: declared[job_id].trigger.interval.total_seconds()
        for job_id in ("process_email_retries", "process_upsell_emails", "cleanup_expired_sessions")
    }
    assert intervals == {
        "process_email_retries": 60,
        "process_upsell_emails": 15 * 60,
        "cleanup_expired_sessions": 60 * 60,
    }


@pytest.mark.django_db
def test_process_email_retries_sends_due_email_and_returns_counts(enqueue):
    enqueue()
    assert jobs.process_email_retries() == {"claimed": 1, "sent": 1}
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_process_upsell_emails_returns_counts():
    assert jobs.process_upsell_emails() == {}
