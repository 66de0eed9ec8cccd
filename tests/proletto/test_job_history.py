"""Job history retention belongs to the scheduler: runs and handled run-now requests older
than JOB_EXECUTION_RETENTION_DAYS go; recent ones and waiting requests stay."""

import datetime as dt

import pytest
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from proletto.models import RunRequest
from proletto.scheduling.history import job_history_prune

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def retention(settings):
    settings.JOB_EXECUTION_RETENTION_DAYS = 30


def test_it_deletes_runs_past_retention_in_batches():
    job = DjangoJob.objects.create(id="process_email_retries", job_state=b"")
    for day in range(31, 36):
        DjangoJobExecution.objects.create(
            job=job, status="Executed", run_time=NOW - dt.timedelta(days=day)
        )
    recent = DjangoJobExecution.objects.create(
        job=job, status="Executed", run_time=NOW - dt.timedelta(days=29)
    )
    assert job_history_prune(now=NOW, batch_size=2)["executions_deleted"] == 5
    assert list(DjangoJobExecution.objects.values_list("pk", flat=True)) == [recent.pk]


def test_it_keeps_run_now_requests_still_waiting_whatever_their_age():
    DjangoJob.objects.create(id="j", job_state=b"")
    old = NOW - dt.timedelta(days=400)
    RunRequest.objects.create(job_id="j", requested_by="ops", status="done", requested_at=old)
    waiting = RunRequest.objects.create(
        job_id="j", requested_by="ops", status="pending", requested_at=old
    )
    assert job_history_prune(now=NOW)["run_requests_deleted"] == 1
    assert list(RunRequest.objects.values_list("pk", flat=True)) == [waiting.pk]


def test_outreachs_clean_up_leaves_job_history_alone():
    from outreach.services.cleanup import outreach_cleanup

    job = DjangoJob.objects.create(id="process_email_retries", job_state=b"")
    DjangoJobExecution.objects.create(
        job=job, status="Executed", run_time=NOW - dt.timedelta(days=400)
    )
    assert "job_executions_deleted" not in outreach_cleanup(now=NOW)
    assert DjangoJobExecution.objects.count() == 1
