"""Migration proletto 0010 turned pickled APScheduler Jobs into JSON trigger specs. The code
before it unpickles job_state and would crash on a spec, so going back is refused while jobs
are stored; with an empty job store there is nothing to misread and it goes back."""

import datetime as dt

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from django.db import connection
from django.db.migrations.exceptions import IrreversibleError
from django.db.migrations.executor import MigrationExecutor
from django_apscheduler.models import DjangoJob

from proletto.scheduling.trigger_spec import job_state_dump

BEFORE = [("proletto", "0009_user_digest_paused_until")]
CONVERTED = ("proletto", "0010_job_state_holds_the_trigger_spec")
NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def executor(transactional_db):
    yield MigrationExecutor(connection)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def applied(migration) -> bool:
    return migration in MigrationExecutor(connection).loader.applied_migrations


def test_going_back_with_jobs_stored_is_refused_and_leaves_them_as_they_are(executor):
    state = job_state_dump(IntervalTrigger(hours=1, start_date=NOW))
    DjangoJob.objects.create(id="hourly", next_run_time=NOW, job_state=state)
    with pytest.raises(IrreversibleError, match="stop every scheduler"):
        executor.migrate(BEFORE)
    assert bytes(DjangoJob.objects.get(id="hourly").job_state) == state
    assert applied(CONVERTED)


def test_going_back_with_an_empty_job_store_is_allowed(executor):
    executor.migrate(BEFORE)
    assert not applied(CONVERTED)
