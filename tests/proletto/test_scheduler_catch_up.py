"""coalesce=False: every fire time within the misfire grace runs once, oldest first."""

import datetime as dt

import pytest
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from proletto.scheduling.claims import due_runs_claim
from proletto.scheduling.jobstore import jobs_sync
from proletto.scheduling.statuses import MISSED, STARTED

pytestmark = pytest.mark.django_db
SYNCED_AT = dt.datetime(2026, 3, 2, 10, 59, 30, tzinfo=dt.UTC)
ELEVEN = dt.datetime(2026, 3, 2, 11, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture(autouse=True)
def synced(settings):
    settings.SCHEDULER_JOB_MODULES = ["tests.proletto.scheduler_jobs_catch_up"]
    settings.SCHEDULE_OVERRIDES = {}
    jobs_sync(now=SYNCED_AT)


def run_times(status):
    rows = DjangoJobExecution.objects.filter(job_id="every_minute", status=status)
    return list(rows.order_by("run_time").values_list("run_time", flat=True))


def claim(now, running=()):
    return [c.job.id for c in due_runs_claim(now=now, running=set(running))]


def test_each_fire_time_within_the_grace_runs_oldest_first():
    now = ELEVEN + 2 * MINUTE + dt.timedelta(seconds=30)
    assert claim(now) == ["every_minute"]
    assert claim(now) == ["every_minute"]
    assert claim(now) == ["every_minute"]
    assert claim(now) == []
    assert run_times(STARTED) == [ELEVEN, ELEVEN + MINUTE, ELEVEN + 2 * MINUTE]
    assert DjangoJob.objects.get(id="every_minute").next_run_time == ELEVEN + 3 * MINUTE


def test_a_fire_time_waits_while_the_previous_one_still_runs():
    now = ELEVEN + MINUTE + dt.timedelta(seconds=10)
    assert claim(now) == ["every_minute"]
    assert claim(now, running={"every_minute"}) == []
    assert DjangoJob.objects.get(id="every_minute").next_run_time == ELEVEN + MINUTE
    assert not DjangoJobExecution.objects.exclude(status=STARTED).exists()
    assert claim(now) == ["every_minute"]


def test_fire_times_older_than_the_grace_are_recorded_as_missed():
    now = ELEVEN + 5 * MINUTE + dt.timedelta(seconds=30)
    assert claim(now) == ["every_minute"]
    assert run_times(MISSED) == [ELEVEN, ELEVEN + MINUTE, ELEVEN + 2 * MINUTE]
    assert run_times(STARTED) == [ELEVEN + 3 * MINUTE]


def test_missed_fire_times_are_recorded_even_while_the_job_runs():
    now = ELEVEN + 5 * MINUTE + dt.timedelta(seconds=30)
    assert claim(now, running={"every_minute"}) == []
    assert len(run_times(MISSED)) == 3
    assert DjangoJob.objects.get(id="every_minute").next_run_time == ELEVEN + 3 * MINUTE


def test_a_fire_time_already_run_is_not_run_again():
    now = ELEVEN + dt.timedelta(seconds=5)
    assert claim(now) == ["every_minute"]
    # A hand edit back in time: the execution row stands against a second run.
    DjangoJob.objects.filter(id="every_minute").update(next_run_time=ELEVEN)
    assert claim(now) == []
    assert run_times(STARTED) == [ELEVEN]
