from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_apscheduler.models import DjangoJobExecution

from proletto.scheduling.jobstore import job_pause, jobs_sync
from proletto.scheduling.statuses import EXECUTED, FAILED

pytestmark = pytest.mark.django_db


def test_runjob_runs_the_job_here_and_records_it(scheduler_jobs_declared):
    out = StringIO()
    call_command("runjob", "hourly", stdout=out)
    assert scheduler_jobs_declared.CALLS == ["hourly"]
    [execution] = DjangoJobExecution.objects.all()
    assert execution.status == EXECUTED
    assert "job hourly ran" in out.getvalue()


def test_runjob_rejects_an_unknown_job_listing_the_known_ones(scheduler_jobs_declared):
    with pytest.raises(CommandError, match=r"unknown job 'nope' \(known: failing, hourly"):
        call_command("runjob", "nope")
    assert not DjangoJobExecution.objects.exists()


def test_runjob_reports_a_failing_job(scheduler_jobs_declared):
    with pytest.raises(CommandError, match="job failing failed"):
        call_command("runjob", "failing")
    assert DjangoJobExecution.objects.get().status == FAILED


def test_runjob_refuses_a_paused_job(scheduler_jobs_declared):
    jobs_sync()
    job_pause(job_id="hourly")
    with pytest.raises(CommandError, match="paused"):
        call_command("runjob", "hourly")
    assert scheduler_jobs_declared.CALLS == []
