import pytest
from django_apscheduler.models import DjangoJobExecution

from proletto.models import RunRequest
from proletto.scheduling.history import job_history_prune
from proletto.scheduling.jobstore import job_pause, job_request_run, jobs_sync
from proletto.scheduling.registry import SchedulingError
from proletto.scheduling.runtime import SchedulerProcess
from proletto.scheduling.statuses import FAILED

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(scheduler_jobs_declared):
    jobs_sync()
    return scheduler_jobs_declared


def test_it_records_a_run_request_for_the_leader(synced, live_leader):
    request = job_request_run(job_id="hourly", requested_by="ops")
    assert request.status == RunRequest.Status.PENDING
    assert request.job_id == "hourly"


def test_it_refuses_an_unknown_job_naming_the_known_ones(synced, live_leader):
    with pytest.raises(SchedulingError, match="unknown job 'hourlyy'.*hourly"):
        job_request_run(job_id="hourlyy", requested_by="ops")
    assert not RunRequest.objects.exists()


def test_it_refuses_a_paused_job(synced, live_leader):
    job_pause(job_id="hourly")
    with pytest.raises(SchedulingError, match="paused"):
        job_request_run(job_id="hourly", requested_by="ops")
    assert not RunRequest.objects.exists()


def test_it_refuses_when_no_scheduler_leads(synced):
    with pytest.raises(SchedulingError, match="no scheduler is running"):
        job_request_run(job_id="hourly", requested_by="ops")
    assert not RunRequest.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_leader_runs_a_requested_job_as_a_normal_run(synced):
    process = SchedulerProcess(holder="leader-1")
    process.tick()  # becomes the leader
    request = job_request_run(job_id="failing", requested_by="ops")
    process.tick()
    assert process.join_running(10) == []
    request.refresh_from_db()
    assert request.status == RunRequest.Status.FAILED
    assert request.claimed_by == "leader-1"
    execution = DjangoJobExecution.objects.get(pk=request.execution_id)
    assert execution.status == FAILED


@pytest.mark.django_db(transaction=True)
def test_a_request_is_run_once_however_often_the_leader_polls(synced):
    process = SchedulerProcess(holder="leader-1")
    process.tick()
    job_request_run(job_id="hourly", requested_by="ops")
    process.tick()
    process.tick()
    process.join_running(10)
    assert synced.CALLS.count("hourly") == 1


def test_old_handled_requests_are_pruned(synced, live_leader):
    import datetime as dt

    from django.utils import timezone

    old = job_request_run(job_id="hourly", requested_by="ops")
    RunRequest.objects.filter(pk=old.pk).update(
        status=RunRequest.Status.DONE, requested_at=timezone.now() - dt.timedelta(days=400)
    )
    pending = job_request_run(job_id="hourly", requested_by="ops")
    assert job_history_prune()["run_requests_deleted"] == 1
    assert list(RunRequest.objects.values_list("pk", flat=True)) == [pending.pk]
