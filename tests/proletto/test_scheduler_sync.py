import datetime as dt

import pytest
import time_machine
from django_apscheduler.models import DjangoJob

from proletto.scheduling.jobstore import job_pause, job_resume, jobs_sync
from proletto.scheduling.registry import SchedulingError

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 2, 10, 20, tzinfo=dt.UTC)


def test_it_stores_every_declared_job_with_its_next_fire_time(scheduler_jobs_declared):
    jobs_sync(now=NOW)
    assert set(DjangoJob.objects.values_list("id", flat=True)) == {
        "hourly",
        "hourly_skip",
        "failing",
        "slow",
    }
    assert DjangoJob.objects.get(id="hourly").next_run_time == NOW.replace(hour=11, minute=0)


def test_it_removes_jobs_no_longer_declared(scheduler_jobs_declared):
    DjangoJob.objects.create(id="gone", next_run_time=NOW, job_state=b"")
    counts = jobs_sync(now=NOW)
    assert counts["removed"] == 1
    assert not DjangoJob.objects.filter(id="gone").exists()


def test_it_keeps_a_pending_next_run_time_across_restarts(scheduler_jobs_declared):
    jobs_sync(now=NOW)
    jobs_sync(now=NOW + dt.timedelta(hours=5))  # a restart after five hours down
    assert DjangoJob.objects.get(id="hourly").next_run_time == NOW.replace(hour=11, minute=0)


def test_it_reschedules_a_job_whose_schedule_was_overridden(settings, scheduler_jobs_declared):
    jobs_sync(now=NOW)
    settings.SCHEDULE_OVERRIDES = {"hourly": "cron: 30 6 * * *"}
    jobs_sync(now=NOW)
    assert DjangoJob.objects.get(id="hourly").next_run_time == dt.datetime(
        2026, 3, 3, 6, 30, tzinfo=dt.UTC
    )


def test_a_paused_job_stays_paused_after_sync(scheduler_jobs_declared):
    jobs_sync(now=NOW)
    job_pause(job_id="hourly")
    jobs_sync(now=NOW)
    assert DjangoJob.objects.get(id="hourly").next_run_time is None


def test_resume_schedules_the_next_fire_time_after_now(scheduler_jobs_declared):
    jobs_sync(now=NOW)
    job_pause(job_id="hourly")
    with time_machine.travel(NOW + dt.timedelta(hours=3), tick=False):
        job_resume(job_id="hourly")
    assert DjangoJob.objects.get(id="hourly").next_run_time == NOW.replace(hour=14, minute=0)


def test_pause_of_an_unknown_job_names_the_known_ones(scheduler_jobs_declared):
    jobs_sync(now=NOW)
    with pytest.raises(SchedulingError, match="unknown job 'nope'.*hourly"):
        job_pause(job_id="nope")
