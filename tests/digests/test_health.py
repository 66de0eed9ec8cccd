"""digests/health.py: this week's digests and the opportunity sources."""

import datetime as dt

import pytest

from digests import health as checks
from digests.models import DigestEmail, OpportunitySource
from outreach.models import EmailOutbox
from proletto.models import CheckStatus
from tests.digests.digest_data import artist

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
OK, WARNING, FAILING = CheckStatus.OK, CheckStatus.WARNING, CheckStatus.FAILING


def by_name(results):
    return {r.name: r for r in results}


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
