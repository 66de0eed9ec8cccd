import datetime as dt

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from django.core.management import call_command
from django.core.management.base import CommandError

from proletto.checks import check_schedules
from proletto.scheduling.registry import (
    SchedulingError,
    declared_jobs,
    describe_trigger,
    effective_trigger,
    parse_schedule,
)


def test_it_parses_an_interval_override():
    trigger = parse_schedule("interval: 1h30m", job_id="x")
    assert isinstance(trigger, IntervalTrigger)
    assert trigger.interval == dt.timedelta(hours=1, minutes=30)


def test_it_parses_a_cron_override_in_utc():
    trigger = parse_schedule("cron: 0 8 * * mon", job_id="x")
    assert isinstance(trigger, CronTrigger)
    assert str(trigger.timezone) == "UTC"


@pytest.mark.parametrize(
    "value", ["every hour", "interval: 15 minutes", "cron: 0 25 * * *", "interval: 0m", "cron:"]
)
def test_it_rejects_a_bad_override_naming_the_job(value):
    with pytest.raises(SchedulingError, match="'scrape_opportunities'"):
        parse_schedule(value, job_id="scrape_opportunities")


def test_an_override_replaces_the_declared_schedule(settings, scheduler_jobs_declared):
    settings.SCHEDULE_OVERRIDES = {"hourly": "interval: 15m"}
    trigger = effective_trigger(declared_jobs()["hourly"])
    assert trigger.interval == dt.timedelta(minutes=15)


def test_a_bad_override_is_a_system_check_error(settings, scheduler_jobs_declared):
    settings.SCHEDULE_OVERRIDES = {"hourly": "interval: soon"}
    [error] = check_schedules(None)
    assert error.id == "proletto.E002"
    assert "'hourly'" in error.msg


def test_an_override_of_an_unknown_job_is_a_system_check_error(settings, scheduler_jobs_declared):
    settings.SCHEDULE_OVERRIDES = {"hourlyy": "interval: 1h"}
    [error] = check_schedules(None)
    assert "unknown job 'hourlyy'" in error.msg


def test_runapscheduler_refuses_to_start_with_a_bad_override(settings, scheduler_jobs_declared):
    settings.SCHEDULE_OVERRIDES = {"hourly": "cron: 61 * * * *"}
    with pytest.raises(CommandError, match="'hourly'"):
        call_command("runapscheduler", skip_checks=True)


def test_runapscheduler_exits_quietly_when_disabled(settings, caplog):
    settings.ENABLE_SCHEDULER = False
    call_command("runapscheduler")
    assert "scheduler is disabled" in caplog.text


def test_it_describes_schedules_for_humans():
    assert describe_trigger(IntervalTrigger(hours=6)) == "every 6 h"
    assert describe_trigger(IntervalTrigger(minutes=15)) == "every 15 min"
    assert describe_trigger(CronTrigger.from_crontab("0 2 * * *", timezone=dt.UTC)) == (
        "cron 0 2 * * * (UTC)"
    )


def test_the_core_app_declares_its_jobs(settings):
    settings.SCHEDULER_JOB_MODULES = []
    assert "prune_job_history" in declared_jobs()
