"""Each maintenance-bot check in its ok / warning / failing states."""

import datetime as dt

import pytest
import time_machine
from django_apscheduler.models import DjangoJobExecution

from digests.models import DigestEmail, OpportunitySource
from outreach.models import Category, EmailOutbox
from proletto.models import CheckStatus
from proletto.monitoring import checks
from proletto.scheduling.jobstore import job_pause, jobs_sync
from proletto.scheduling.leadership import lease_acquire
from tests.digests.digest_data import artist

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
OK, WARNING, FAILING = CheckStatus.OK, CheckStatus.WARNING, CheckStatus.FAILING


def by_name(results):
    return {r.name: r for r in results}


def email(n, **fields):
    defaults = {
        "recipient": f"r{n}@example.com",
        "subject": "s",
        "category": Category.TRANSACTIONAL,
        "idempotency_key": f"k{n}",
        "next_attempt_at": NOW,
    }
    return EmailOutbox.objects.create(**{**defaults, **fields})


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
    with time_machine.travel(NOW, tick=False):
        lease_acquire(holder="host-a", seconds=30)
    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
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


# --- outbox ---------------------------------------------------------------------------------


def test_outbox_backlog_states_follow_the_oldest_due_email():
    email(1, next_attempt_at=NOW - dt.timedelta(minutes=5))
    assert by_name(checks.check_outbox(NOW))["outbox backlog"].status == OK
    email(2, next_attempt_at=NOW - dt.timedelta(minutes=20))
    assert by_name(checks.check_outbox(NOW))["outbox backlog"].status == WARNING
    email(3, next_attempt_at=NOW - dt.timedelta(hours=2))
    result = by_name(checks.check_outbox(NOW))["outbox backlog"]
    assert result.status == FAILING
    assert result.summary == "3 email(s) due; the oldest has waited 120 min"


def test_dead_emails_of_the_last_day_warn_then_fail(settings):
    settings.HEALTH_DEAD_EMAILS_FAILING = 3
    with time_machine.travel(NOW, tick=False):
        email(1, status=EmailOutbox.Status.DEAD)
        assert by_name(checks.check_outbox(NOW))["dead emails (24 h)"].status == WARNING
        email(2, status=EmailOutbox.Status.DEAD)
        email(3, status=EmailOutbox.Status.DEAD)
        assert by_name(checks.check_outbox(NOW))["dead emails (24 h)"].status == FAILING
    assert (
        by_name(checks.check_outbox(NOW + dt.timedelta(days=2)))["dead emails (24 h)"].status == OK
    )


def test_bounce_rate_states(settings):
    settings.HEALTH_BOUNCE_MIN_SENT = 10
    for n in range(100):
        email(n, status=EmailOutbox.Status.SENT, sent_at=NOW, next_attempt_at=None)
    name = "bounces and complaints (24 h)"
    assert by_name(checks.check_outbox(NOW))[name].status == OK
    EmailOutbox.objects.filter(
        pk__in=list(EmailOutbox.objects.values_list("pk", flat=True)[:3])
    ).update(bounced_at=NOW)
    assert by_name(checks.check_outbox(NOW))[name].status == WARNING
    EmailOutbox.objects.filter(
        pk__in=list(EmailOutbox.objects.values_list("pk", flat=True)[3:6])
    ).update(complained_at=NOW)
    result = by_name(checks.check_outbox(NOW))[name]
    assert result.status == FAILING and result.value == "6.0%"


def test_bounce_rate_is_not_judged_on_a_handful_of_emails():
    email(1, status=EmailOutbox.Status.SENT, sent_at=NOW, bounced_at=NOW, next_attempt_at=None)
    assert by_name(checks.check_outbox(NOW))["bounces and complaints (24 h)"].status == OK


def test_an_email_sending_past_its_claim_fails_the_relay_check(settings):
    settings.EMAIL_CLAIM_TIMEOUT_SECONDS = 900
    email(1, status=EmailOutbox.Status.SENDING, claimed_at=NOW - dt.timedelta(minutes=10))
    name = "outbox sending past its claim"
    assert by_name(checks.check_outbox_relay(NOW))[name].status == OK
    email(2, status=EmailOutbox.Status.SENDING, claimed_at=NOW - dt.timedelta(minutes=16))
    result = by_name(checks.check_outbox_relay(NOW))[name]
    assert result.status == FAILING and result.value == "1"


def test_retries_due_and_not_taken_warn_then_fail(settings):
    settings.HEALTH_OUTBOX_DUE_RETRY_WARNING = 2
    settings.HEALTH_OUTBOX_DUE_RETRY_FAILING = 3
    late = NOW - dt.timedelta(minutes=6)
    email(1, status=EmailOutbox.Status.RETRY, next_attempt_at=NOW - dt.timedelta(minutes=1))
    email(2, status=EmailOutbox.Status.RETRY, next_attempt_at=NOW + dt.timedelta(hours=1))
    email(3, status=EmailOutbox.Status.RETRY, next_attempt_at=late)
    assert by_name(checks.check_outbox_relay(NOW))["outbox retries due"].status == OK
    email(4, status=EmailOutbox.Status.RETRY, next_attempt_at=late)
    assert by_name(checks.check_outbox_relay(NOW))["outbox retries due"].status == WARNING
    email(5, status=EmailOutbox.Status.RETRY, next_attempt_at=late)
    assert by_name(checks.check_outbox_relay(NOW))["outbox retries due"].status == FAILING


def test_the_esp_error_rate_counts_timeouts_of_the_last_minutes(settings):
    settings.HEALTH_ESP_MIN_SENDS = 10
    settings.HEALTH_ESP_WINDOW_MINUTES = 15
    name = "ESP errors (15 min)"
    with time_machine.travel(NOW, tick=False):
        for n in range(18):
            email(n, status=EmailOutbox.Status.SENT, sent_at=NOW, next_attempt_at=None)
        email(100, status=EmailOutbox.Status.RETRY, last_error="ambiguous: no answer in 20 s")
        assert by_name(checks.check_outbox_relay(NOW))[name].status == WARNING
        email(101, status=EmailOutbox.Status.RETRY, last_error="ambiguous: dropped")
        email(102, status=EmailOutbox.Status.DEAD, last_error="rejected: 400")
        email(103, status=EmailOutbox.Status.RETRY, last_error="503 Service Unavailable")
        email(104, status=EmailOutbox.Status.RETRY, last_error="503 Service Unavailable")
        email(105, status=EmailOutbox.Status.RETRY, last_error="503 Service Unavailable")
        result = by_name(checks.check_outbox_relay(NOW))[name]
    assert result.status == FAILING
    assert result.summary == (
        "6 of 24 sends failed in the last 15 min (2 timed out or dropped), 25.0%"
    )
    later = NOW + dt.timedelta(minutes=16)
    assert by_name(checks.check_outbox_relay(later))[name].status == OK


# --- digests and sources ----------------------------------------------------------------------


def test_failed_digests_this_week_warn_then_fail(settings):
    settings.HEALTH_DIGEST_FAILED_SHARE_FAILING = 0.5
    users = [artist(f"d{i}") for i in range(4)]
    week = dt.date(2026, 11, 23)
    for user in users:
        email = EmailOutbox.objects.create(
            recipient=user.email,
            user=user,
            subject="s",
            category="digest",
            idempotency_key=f"digest:{user.pk}",
            status=EmailOutbox.Status.SENT,
        )
        DigestEmail.objects.create(user=user, week_start=week, outbox=email)
    assert checks.check_digests(NOW)[0].status == OK
    EmailOutbox.objects.filter(user=users[0]).update(status=EmailOutbox.Status.DEAD)
    assert checks.check_digests(NOW)[0].status == WARNING
    EmailOutbox.objects.filter(user=users[1]).update(status=EmailOutbox.Status.SUPPRESSED)
    result = checks.check_digests(NOW)[0]
    assert result.status == FAILING and result.summary == "2 of 4 digest(s) this week failed"


def make_source(**fields):
    defaults = {"name": "Calls", "kind": "feed", "url": "https://calls.example/rss"}
    source = OpportunitySource.objects.create(**{**defaults, **fields})
    OpportunitySource.objects.filter(pk=source.pk).update(created_at=NOW - dt.timedelta(days=30))
    source.refresh_from_db()
    return source


def test_a_source_fetched_recently_is_ok():
    make_source(last_success_at=NOW - dt.timedelta(hours=1))
    assert checks.check_sources(NOW)[0].status == OK


def test_a_source_that_failed_once_warns():
    make_source(
        last_success_at=NOW - dt.timedelta(hours=6), consecutive_failures=1, last_error="HTTP 500"
    )
    assert checks.check_sources(NOW)[0].status == WARNING


def test_a_source_failing_n_times_in_a_row_is_failing():
    make_source(
        last_success_at=NOW - dt.timedelta(hours=20), consecutive_failures=3, last_error="HTTP 500"
    )
    result = checks.check_sources(NOW)[0]
    assert result.status == FAILING
    assert result.summary == "3 failures in a row: HTTP 500"


def test_a_silent_source_warns():
    make_source(last_success_at=NOW - dt.timedelta(days=2))
    result = checks.check_sources(NOW)[0]
    assert result.status == WARNING and result.value == "48 h"


def test_a_disabled_source_is_not_checked():
    make_source(enabled=False, consecutive_failures=9)
    assert checks.check_sources(NOW) == []


# --- disk -----------------------------------------------------------------------------------


def test_disk_states_follow_the_free_share(settings):
    settings.HEALTH_DISK_FREE_WARNING = 0.0
    settings.HEALTH_DISK_FREE_FAILING = 0.0
    assert checks.check_disk(NOW)[0].status == OK
    settings.HEALTH_DISK_FREE_WARNING = 1.01
    assert checks.check_disk(NOW)[0].status == WARNING
    settings.HEALTH_DISK_FREE_FAILING = 1.01
    assert checks.check_disk(NOW)[0].status == FAILING


def test_a_crashing_check_is_reported_failing_and_the_others_still_run(monkeypatch):
    def broken(now):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(checks, "CHECKS", [broken, checks.check_disk])
    results = checks.run_checks(NOW)
    assert [(r.name, r.status) for r in results][0] == ("broken", FAILING)
    assert "ZeroDivisionError: boom" in results[0].summary
    assert results[1].name == "disk space"


# --- Stripe events ------------------------------------------------------------------------


def stripe_event_row(event_id, state, received_at, outcome=""):
    from billing.models import StripeEvent

    return StripeEvent.objects.create(
        event_id=event_id,
        type="invoice.paid",
        created=received_at,
        received_at=received_at,
        state=state,
        outcome=outcome,
    )


def test_stripe_events_are_ok_when_none_needs_attention():
    stripe_event_row("evt_done", "processed", NOW)
    stripe_event_row("evt_not_ours", "ignored", NOW)
    (result,) = checks.check_stripe_events(NOW)
    assert (result.status, result.value) == (OK, "0")


def test_an_event_needing_attention_is_failing_with_the_oldest_reason():
    stripe_event_row(
        "evt_new", "needs_attention", NOW, "needs attention: Stripe did not answer: timeout"
    )
    stripe_event_row(
        "evt_old",
        "needs_attention",
        NOW - dt.timedelta(hours=3),
        "needs attention: STRIPE_SECRET_KEY is not configured: Stripe cannot be asked",
    )
    (result,) = checks.check_stripe_events(NOW)
    assert (result.status, result.value) == (FAILING, "2")
    assert result.summary == (
        "2 Stripe event(s) need attention since 2026-11-23 09:00 UTC; evt_old: "
        "STRIPE_SECRET_KEY is not configured: Stripe cannot be asked"
    )
