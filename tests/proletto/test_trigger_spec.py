"""The job store keeps each job's trigger as a JSON spec, read back into the same schedule;
states pickled by APScheduler's Job (before) are converted by migration 0010."""

import datetime as dt
import importlib
import pickle
from types import SimpleNamespace

import pytest
from apscheduler.job import Job
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from django.apps import apps
from django_apscheduler.models import DjangoJob

from proletto.scheduling.jobstore import _trigger_key
from proletto.scheduling.registry import SchedulingError, parse_schedule
from proletto.scheduling.trigger_spec import job_state_dump, stored_trigger
from proletto.scheduling.triggers import fire_times_due

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 3, 29, 0, 10, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "trigger",
    [
        IntervalTrigger(hours=6, start_date=START),
        IntervalTrigger(minutes=90, timezone=dt.UTC, start_date=START),
        CronTrigger(minute="*/15", timezone="UTC"),
        CronTrigger(day_of_week="mon-fri", hour=8, timezone="America/New_York"),
        parse_schedule("cron: 30 2 * * * Europe/Berlin", job_id="x"),
    ],
    ids=["interval", "interval-utc", "cron", "cron-zone", "wallclock-cron"],
)
def test_a_stored_trigger_keeps_its_schedule(trigger):
    stored = stored_trigger("x", job_state_dump(trigger))
    assert type(stored) is type(trigger) and _trigger_key(stored) == _trigger_key(trigger)
    after = NOW
    for _ in range(5):
        expected = trigger.get_next_fire_time(None, after)
        assert stored.get_next_fire_time(None, after) == expected
        after = expected + dt.timedelta(seconds=1)


def test_a_trigger_the_store_cannot_keep_is_refused_by_name():
    with pytest.raises(SchedulingError, match="a DateTrigger cannot be stored"):
        job_state_dump(DateTrigger(run_date=START))


def test_the_fire_times_due_are_those_up_to_now_on_the_schedule():
    hourly = IntervalTrigger(hours=1, start_date=START)
    first = dt.datetime(2026, 3, 28, 22, 0, tzinfo=dt.UTC)
    assert fire_times_due(hourly, first, NOW) == [
        first,
        first + dt.timedelta(hours=1),
        first + dt.timedelta(hours=2),
    ]
    assert fire_times_due(hourly, NOW + dt.timedelta(minutes=1), NOW) == []


@pytest.mark.django_db
def test_the_migration_turns_a_pickled_job_into_its_trigger_spec():
    trigger = IntervalTrigger(hours=6, start_date=START)
    job = Job(
        SimpleNamespace(timezone=dt.UTC),
        id="old",
        func="proletto.jobs:maintenance_bot",
        trigger=trigger,
        executor="default",
        args=(),
        kwargs={},
        name="old",
        misfire_grace_time=1,
        coalesce=True,
        max_instances=1,
        next_run_time=NOW,
    )
    DjangoJob.objects.create(
        id="old", next_run_time=NOW, job_state=pickle.dumps(job.__getstate__())
    )
    DjangoJob.objects.create(id="unreadable", next_run_time=NOW, job_state=b"\x00junk")
    migration = importlib.import_module("proletto.migrations.0010_job_state_holds_the_trigger_spec")
    migration.pickled_jobs_to_trigger_specs(apps, None)
    stored = stored_trigger("old", DjangoJob.objects.get(id="old").job_state)
    assert _trigger_key(stored) == _trigger_key(trigger) and stored.start_date == START
    assert bytes(DjangoJob.objects.get(id="unreadable").job_state) == b"\x00junk"
