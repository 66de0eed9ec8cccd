"""The maintenance bot: history, alert on change, recovery notice, no alert storm."""

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from outreach.models import Category, EmailOutbox
from proletto.models import CheckStatus, HealthAlert, HealthCheckResult, HealthCheckState
from proletto.monitoring import registry, services
from proletto.monitoring.results import CheckResult

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def probe(monkeypatch, settings):
    """One controllable check instead of the real ones; two admins to alert."""
    settings.ADMINS = [("Ops", "ops@proletto.test"), ("Ada", "ada@proletto.test")]
    state = {"status": CheckStatus.OK}

    def check_probe(now):
        return [CheckResult("probe", state["status"], "1", f"probe is {state['status']}")]

    monkeypatch.setattr(registry, "health_checks", lambda: [check_probe])
    return state


def run_at(minutes):
    with time_machine.travel(NOW + dt.timedelta(minutes=minutes), tick=False):
        return services.health_run()


def alert_emails():
    return list(
        EmailOutbox.objects.filter(category=Category.ALERT)
        .order_by("id")
        .values_list("recipient", "subject")
    )


def test_each_run_keeps_every_result_in_the_history(probe):
    run_at(0)
    run_at(5)
    assert HealthCheckResult.objects.filter(name="probe").count() == 2


def test_nothing_is_emailed_while_a_check_stays_ok(probe):
    run_at(0)
    run_at(5)
    assert alert_emails() == []


def test_a_check_that_starts_failing_emails_every_admin_once(probe):
    run_at(0)
    probe["status"] = CheckStatus.FAILING
    run_at(5)
    run_at(10)
    run_at(15)
    assert alert_emails() == [
        ("ops@proletto.test", "[Proletto] FAILING: probe"),
        ("ada@proletto.test", "[Proletto] FAILING: probe"),
    ]
    state = HealthCheckState.objects.get(name="probe")
    assert state.since == NOW + dt.timedelta(minutes=5)


def test_a_recovery_sends_a_notice(probe):
    probe["status"] = CheckStatus.FAILING
    run_at(0)
    probe["status"] = CheckStatus.OK
    run_at(40)
    assert [subject for _, subject in alert_emails()][-2:] == ["[Proletto] Recovered: probe"] * 2
    alert = HealthAlert.objects.latest("created_at")
    assert (alert.from_status, alert.to_status) == (CheckStatus.FAILING, CheckStatus.OK)


def test_warnings_show_on_the_page_but_email_nobody(probe):
    run_at(0)
    probe["status"] = CheckStatus.WARNING
    run_at(5)
    assert alert_emails() == []
    assert HealthCheckState.objects.get(name="probe").status == CheckStatus.WARNING


def test_a_flapping_check_does_not_storm_the_admins(probe):
    for minute in range(0, 30, 5):  # failing, ok, failing, ok, ... every 5 minutes
        probe["status"] = CheckStatus.FAILING if minute % 10 == 0 else CheckStatus.OK
        run_at(minute)
    # One alert for the first failure; the flaps inside the quiet interval send nothing.
    assert len(alert_emails()) == 2
    probe["status"] = CheckStatus.OK
    run_at(35)  # settled on ok after the interval: one recovery notice
    assert [s for _, s in alert_emails()][-1] == "[Proletto] Recovered: probe"
    assert len(alert_emails()) == 4


def test_the_bot_deletes_history_past_retention(probe, settings):
    settings.HEALTH_RESULT_RETENTION_DAYS = 7
    run_at(0)
    run_at(60 * 24 * 8)
    assert HealthCheckResult.objects.count() == 1


def test_the_job_summary_has_counts(probe):
    counts = run_at(0)
    assert counts == {"checks": 1, "ok": 1, "warning": 0, "failing": 0, "alerts": 0, "pruned": 0}


def test_healthcheck_command_prints_a_table_and_fails_on_a_failing_check(probe):
    probe["status"] = CheckStatus.FAILING
    out = StringIO()
    with pytest.raises(CommandError, match="1 check\\(s\\) failing: probe"):
        call_command("healthcheck", stdout=out)
    assert "FAILING  probe" in out.getvalue()
    assert not HealthCheckResult.objects.exists()  # it stores and emails nothing


def test_healthcheck_command_passes_with_warnings(probe):
    probe["status"] = CheckStatus.WARNING
    out = StringIO()
    call_command("healthcheck", stdout=out)
    assert out.getvalue().startswith("WARNING: none fails, 1 warn: probe\n")
