"""/healthz is the web's liveness (the database answers in time); /healthz/scheduler is the
scheduler's; public bodies name nothing internal; `ok` is never true next to a failing check."""

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from proletto.models import HealthCheckState, SchedulerLease
from proletto.monitoring.checks import check_scheduler
from proletto.monitoring.probes import database_answers
from proletto.scheduling.leadership import lease_acquire, lease_release
from tests.faults import DatabaseProxy

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def failing_check(name="source: Secret Feed"):
    HealthCheckState.objects.create(
        name=name, status="failing", since=NOW, checked_at=NOW, summary=f"{name} is down"
    )


def test_healthz_is_200_with_no_scheduler_running(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_healthz_names_no_check_source_or_scheduler(client):
    failing_check()
    lease_acquire(holder="web-7:1234:abc", seconds=60)
    body = client.get("/healthz").content.decode()
    assert "Secret Feed" not in body and "web-7" not in body


def test_healthz_scheduler_is_200_with_a_live_leader(client):
    lease_acquire(holder="host-a:1:aa", seconds=60)
    response = client.get("/healthz/scheduler")
    assert response.status_code == 200
    assert response.json()["ok"] is True
    assert "host-a" not in response.content.decode()


def test_healthz_scheduler_is_503_when_none_runs(client):
    response = client.get("/healthz/scheduler")
    assert response.status_code == 503
    assert response.json() == {"ok": False, "scheduler": "never started"}


def test_healthz_scheduler_says_stopped_after_a_clean_shutdown(client):
    lease_acquire(holder="host-a:1:aa", seconds=60)
    lease_release(holder="host-a:1:aa")
    assert client.get("/healthz/scheduler").json()["scheduler"] == "stopped"


@pytest.mark.postgres
def test_the_database_probe_gives_up_on_a_host_that_accepts_and_never_answers():
    with DatabaseProxy() as proxy:
        proxy.hang()
        hung = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": proxy.port}
        assert database_answers(settings_dict=hung) is False


@pytest.mark.postgres
def test_the_database_probe_answers_through_a_working_proxy():
    with DatabaseProxy() as proxy:
        working = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": proxy.port}
        assert database_answers(settings_dict=working) is True


def test_admin_system_is_not_ok_with_a_failing_check_even_with_a_live_scheduler(admin_client):
    lease_acquire(holder="host-a:1:aa", seconds=60)
    failing_check("digests failed this week")
    response = admin_client.get("/admin/system")
    body = response.json()
    assert body["ok"] is False and body["checks"]["failing"] == ["digests failed this week"]
    assert response.status_code == 503


def test_checks_not_run_yet_are_their_own_state(admin_client):
    body = admin_client.get("/admin/system").json()
    assert body["checks"]["state"] == "not checked yet"


def test_the_status_page_says_not_checked_yet_instead_of_all_ok(admin_client):
    content = admin_client.get("/admin/system/status/").content.decode().lower()
    assert "not checked yet" in content
    assert "all ok" not in content


def test_the_admin_index_shows_the_failing_state_with_a_link(admin_client):
    failing_check("scheduler")
    content = admin_client.get("/admin/").content.decode()
    assert 'id="health-badge"' in content
    assert "1 failing" in content


def test_check_scheduler_after_a_clean_shutdown_says_it_stopped(db):
    lease_acquire(holder="host-a:1:aa", seconds=60)
    lease_release(holder="host-a:1:aa")
    [result] = check_scheduler(timezone.now())
    assert result.status == "failing"
    assert "no scheduler has ever led" not in result.summary
    assert "stopped" in result.summary


def test_check_scheduler_before_any_scheduler_says_none_ever_led(db):
    assert not SchedulerLease.objects.exists()
    [result] = check_scheduler(timezone.now())
    assert "no scheduler has ever led" in result.summary


# --- the healthcheck command ---------------------------------------------------------------


def test_healthcheck_prints_a_one_line_verdict_then_the_failures_first(settings):
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("healthcheck", stdout=out)  # no scheduler: failing
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("FAILING:")
    assert "scheduler" in lines[0]
    assert lines[1].split()[0] == "STATUS"
    assert lines[2].startswith("FAILING")


def test_healthcheck_json_gives_the_verdict_and_every_check():
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("healthcheck", "--json", stdout=out)
    body = json.loads(out.getvalue())
    assert body["ok"] is False
    assert body["verdict"] == "failing"
    assert {"name", "status", "value", "summary"} <= set(body["checks"][0])
    assert body["checks"][0]["status"] == "failing"


def test_healthcheck_exits_0_when_nothing_fails():
    lease_acquire(holder="host-a:1:aa", seconds=60)
    out = StringIO()
    call_command("healthcheck", stdout=out)
    assert out.getvalue().splitlines()[0].startswith(("OK", "WARNING"))


def test_a_job_that_never_ran_is_not_called_on_schedule(scheduler_jobs_declared):
    from proletto.monitoring.checks import check_jobs
    from proletto.scheduling.jobstore import jobs_sync

    jobs_sync(now=NOW)
    results = {r.name: r for r in check_jobs(NOW)}
    overdue, last_run = results["job overdue: hourly"], results["job last run: hourly"]
    assert overdue.value == "never ran" and "has never run" in overdue.summary
    assert last_run.value == "never ran"


# --- a check that crashes -------------------------------------------------------------------


@pytest.fixture
def crashing_check(settings):
    settings.HEALTH_CHECK_MODULES = ["tests.proletto.health_crashing"]
    lease_acquire(holder="host-a:1:aa", seconds=60)  # the scheduler alone would be green


def test_a_check_that_raises_is_logged_with_its_traceback(crashing_check, caplog):
    from proletto.monitoring.registry import run_checks

    with caplog.at_level("ERROR", logger="proletto.monitoring"):
        results = {r.name: r for r in run_checks()}
    assert results["queue"].summary == "check crashed: ZeroDivisionError: division by zero"
    [record] = [r for r in caplog.records if "check_queue" in r.getMessage()]
    assert record.exc_info and record.exc_info[0] is ZeroDivisionError


def test_admin_system_and_the_healthcheck_command_are_not_ok_after_a_check_crashed(
    admin_client, crashing_check
):
    from proletto.monitoring.services import health_run

    health_run()
    response = admin_client.get("/admin/system")
    assert response.status_code == 503 and response.json()["ok"] is False
    assert "queue" in response.json()["checks"]["failing"]
    with pytest.raises(CommandError, match="queue"):
        call_command("healthcheck", stdout=StringIO())
