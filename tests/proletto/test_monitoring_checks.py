"""Each maintenance-bot check in its ok / warning / failing states."""

import datetime as dt

import pytest
import time_machine
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from proletto.models import CheckStatus
from proletto.monitoring import checks
from proletto.monitoring.registry import health_checks, run_checks
from proletto.scheduling.jobstore import job_pause, jobs_sync
from proletto.scheduling.leadership import lease_acquire
from tests.proletto.lease_time import lease_ages

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
OK, WARNING, FAILING = CheckStatus.OK, CheckStatus.WARNING, CheckStatus.FAILING


def by_name(results):
    return {r.name: r for r in results}


# --- database and scheduler ---------------------------------------------------------------


def test_database_is_ok_when_it_answers_quickly():
    (result,) = checks.check_database(NOW)
    assert result.status == OK and result.value.endswith("ms")


def test_database_warns_when_it_is_slow(settings):
    settings.HEALTH_DB_LATENCY_WARNING_MS = 0
    assert checks.check_database(NOW)[0].status == WARNING


def test_scheduler_is_failing_when_no_scheduler_ever_led():
    (result,) = checks.check_scheduler(NOW)
    assert result.status == FAILING
    assert "runapscheduler" in result.summary


def test_scheduler_is_ok_with_a_fresh_heartbeat():
    with time_machine.travel(NOW, tick=False):
        lease_acquire(holder="host-a", seconds=30)
        assert checks.check_scheduler(NOW)[0].status == OK


def test_scheduler_is_failing_when_the_heartbeat_is_stale():
    lease_acquire(holder="host-a", seconds=30)
    lease_ages(300)
    (result,) = checks.check_scheduler(NOW + dt.timedelta(minutes=5))
    assert result.status == FAILING
    assert "last heartbeat 300 s ago from host-a" in result.summary


# --- jobs -----------------------------------------------------------------------------------


@pytest.fixture
def hourly_job(scheduler_jobs_declared):
    with time_machine.travel(NOW, tick=False):
        jobs_sync()
    return "hourly"


def record_run(job_id, at, status=DjangoJobExecution.SUCCESS, exception=None):
    return DjangoJobExecution.objects.create(
        job_id=job_id, run_time=at, status=status, duration=1, exception=exception
    )


def test_a_job_that_ran_on_schedule_is_not_overdue(hourly_job):
    record_run("hourly", NOW)
    later = NOW + dt.timedelta(minutes=50)
    assert by_name(checks.check_jobs(later))["job overdue: hourly"].status == OK


def test_a_job_one_run_late_warns(hourly_job):
    record_run("hourly", NOW)
    later = NOW + dt.timedelta(hours=1, minutes=11)  # the 13:00 run is 11 min late
    result = by_name(checks.check_jobs(later))["job overdue: hourly"]
    assert result.status == WARNING
    assert "1 run due since 2026-11-23 13:00 UTC" in result.summary


def test_a_job_two_runs_late_is_failing(hourly_job):
    record_run("hourly", NOW)
    later = NOW + dt.timedelta(hours=2, minutes=11)
    assert by_name(checks.check_jobs(later))["job overdue: hourly"].status == FAILING


def test_overdue_follows_the_jobs_own_schedule(hourly_job):
    # The daily job (midnight) succeeded 12 h ago: 12 h without a run is on time for it.
    record_run("failing", NOW.replace(hour=0))
    assert by_name(checks.check_jobs(NOW))["job overdue: failing"].status == OK


def test_a_paused_job_is_never_overdue(hourly_job):
    job_pause(job_id="hourly")
    result = by_name(checks.check_jobs(NOW + dt.timedelta(days=3)))["job overdue: hourly"]
    assert (result.status, result.value) == (OK, "paused")


def test_an_unreadable_job_state_is_failing_even_when_the_job_is_paused(hourly_job):
    job_pause(job_id="hourly")  # it could not be resumed either: resuming reads the state
    DjangoJob.objects.filter(id="hourly").update(job_state=b"[]")
    result = by_name(checks.check_jobs(NOW))["job overdue: hourly"]
    assert (result.status, result.value) == (FAILING, "unreadable")
    assert "job 'hourly': unreadable job state" in result.summary


def test_a_failed_last_run_is_failing_with_its_error(hourly_job):
    record_run("hourly", NOW - dt.timedelta(hours=1))
    record_run("hourly", NOW, DjangoJobExecution.ERROR, "RuntimeError: the source answered 500")
    result = by_name(checks.check_jobs(NOW))["job last run: hourly"]
    assert result.status == FAILING
    assert "the source answered 500" in result.summary


def test_a_missed_last_run_warns(hourly_job):
    record_run("hourly", NOW, DjangoJobExecution.MISSED)
    assert by_name(checks.check_jobs(NOW))["job last run: hourly"].status == WARNING


def test_a_successful_last_run_is_ok(hourly_job):
    record_run("hourly", NOW)
    assert by_name(checks.check_jobs(NOW))["job last run: hourly"].status == OK


# --- disk -----------------------------------------------------------------------------------


def test_disk_states_follow_the_free_share(settings):
    settings.HEALTH_DISK_FREE_WARNING = 0.0
    settings.HEALTH_DISK_FREE_FAILING = 0.0
    assert checks.check_disk(NOW)[0].status == OK
    settings.HEALTH_DISK_FREE_WARNING = 1.01
    assert checks.check_disk(NOW)[0].status == WARNING
    settings.HEALTH_DISK_FREE_FAILING = 1.01
    assert checks.check_disk(NOW)[0].status == FAILING


def test_a_crashing_check_is_reported_failing_and_the_others_still_run():
    def broken(now):
        raise ZeroDivisionError("boom")

    results = run_checks(NOW, checks=[broken, checks.check_disk])
    assert [(r.name, r.status) for r in results][0] == ("broken", FAILING)
    assert "ZeroDivisionError: boom" in results[0].summary
    assert results[1].name == "disk space"


def test_each_apps_health_module_adds_its_checks_between_the_cores():
    names = [check.__module__ + "." + check.__name__ for check in health_checks()]
    assert names[:3] == [
        "proletto.monitoring.checks.check_database",
        "proletto.monitoring.checks.check_scheduler",
        "proletto.monitoring.checks.check_jobs",
    ]
    assert {"billing.health.check_stripe_events", "outreach.health.check_outbox"} <= set(names)
    assert {"digests.health.check_digests", "digests.health.check_sources"} <= set(names)


def test_only_the_health_modules_named_are_run_when_settings_name_them(settings):
    settings.HEALTH_CHECK_MODULES = ["billing.health"]
    names = {check.__name__ for check in health_checks()}
    assert "check_stripe_events" in names
    assert not names & {"check_outbox", "check_digests", "check_sources"}
