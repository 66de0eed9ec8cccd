"""One job contract: a job returns its counts; the runtime writes one log line per run (job,
execution, trigger, counts, duration as fields) and stores the counts on the run; `runjob`
prints one line; LOG_FORMAT=json makes every log line a JSON object."""

import dataclasses
import datetime as dt
import json
import logging
import logging.config
from io import StringIO

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from proletto import config
from proletto.models import JobRun
from proletto.scheduling import statuses
from proletto.scheduling.claims import due_runs_claim
from proletto.scheduling.execution import job_execute
from proletto.scheduling.jobstore import jobs_sync

pytestmark = pytest.mark.django_db
SYNCED_AT = dt.datetime(2026, 3, 2, 10, 20, tzinfo=dt.UTC)
ELEVEN = dt.datetime(2026, 3, 2, 11, 0, tzinfo=dt.UTC)


@pytest.fixture
def hourly_claim(scheduler_jobs_declared):
    jobs_sync(now=SYNCED_AT)
    with time_machine.travel(ELEVEN, tick=False):
        [claim] = [c for c in due_runs_claim(now=ELEVEN, running=set()) if c.job.id == "hourly"]
    return claim


def run_records(caplog):
    return [r for r in caplog.records if r.name == "proletto.scheduling.runs"]


def test_a_run_writes_one_line_with_its_fields_and_stores_its_counts(hourly_claim, caplog):
    with caplog.at_level(logging.INFO):
        assert job_execute(claim=hourly_claim) == statuses.EXECUTED
    [record] = run_records(caplog)
    assert (record.job_id, record.execution_id, record.trigger, record.counts) == (
        "hourly",
        hourly_claim.execution_id,
        "scheduled",
        {"done": 1},
    )
    assert record.duration_seconds >= 0
    assert record.getMessage().startswith("job hourly ran in ")
    assert f"(execution {hourly_claim.execution_id}, scheduled): done=1" in record.getMessage()
    assert JobRun.objects.get(pk=hourly_claim.execution_id).result == {"done": 1}


def test_a_job_that_returns_no_counts_dict_fails_with_the_reason(hourly_claim, caplog):
    claim = dataclasses.replace(
        hourly_claim, job=dataclasses.replace(hourly_claim.job, func=lambda: 3)
    )
    with caplog.at_level(logging.INFO):
        assert job_execute(claim=claim) == statuses.FAILED
    [record] = run_records(caplog)
    assert record.levelno == logging.ERROR
    assert "a job returns its counts as a dict" in record.getMessage()


def test_runjob_prints_one_line_and_logs_no_second(scheduler_jobs_declared, caplog):
    out = StringIO()
    with caplog.at_level(logging.INFO):
        call_command("runjob", "hourly", stdout=out)
    [line] = out.getvalue().splitlines()
    assert line.startswith("job hourly ran in ") and line.endswith(", command): done=1")
    assert run_records(caplog) == []


def test_json_logs_carry_the_runs_fields_as_keys(hourly_claim, caplog):
    stream = StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_formatter(django_settings.LOGGING["formatters"]["json"]))
    logger = logging.getLogger("proletto.scheduling.runs")
    logger.addHandler(handler)
    try:
        with caplog.at_level(logging.INFO):
            job_execute(claim=hourly_claim)
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["job_id"] == "hourly" and line["execution_id"] == hourly_claim.execution_id
    assert (line["trigger"], line["counts"], line["level"]) == ("scheduled", {"done": 1}, "INFO")
    assert line["message"].startswith("job hourly ran in ")


def _formatter(spec: dict) -> logging.Formatter:
    # What logging.config.dictConfig builds from the settings' formatter.
    holder = {"version": 1, "formatters": {"f": dict(spec)}, "handlers": {}, "loggers": {}}
    configurator = logging.config.DictConfigurator(holder)
    return configurator.configure_formatter(dict(spec))


@pytest.mark.parametrize("value, formatter", [("text", "line"), ("JSON", "json")])
def test_log_format_names_a_formatter(value, formatter):
    assert config.log_format(value) == formatter


def test_an_unknown_log_format_stops_start_up_naming_the_choices():
    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT='xml' is not one of text, json"):
        config.log_format("xml")
