"""Drill 2: kill -9 the scheduler's leader in the middle of a digest run of 2,000 users.
After a standby takes over, every user has exactly one digest and one outbox row."""

import datetime as dt
import signal

import pytest
from django.db.models import Count
from django.utils import timezone

from billing.models import Plan, Subscription
from digests.models import DigestEmail, Opportunity
from digests.weeks import due_week
from outreach.models import EmailOutbox
from proletto.models import SchedulerLease, User
from proletto.scheduling.leadership import LEASE_NAME
from tests.proletto.scheduler_processes import Schedulers, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

USERS = 2000


def due_zone(now) -> str:
    """A time zone whose digest is due right now (any zone but one on Monday before 08:00)."""
    return next(
        z for z in ("Asia/Tokyo", "America/Los_Angeles", "Europe/London") if due_week(z, now)
    )


def leader() -> str | None:
    lease = SchedulerLease.objects.filter(name=LEASE_NAME).first()
    return lease.holder if lease and lease.holder else None


@pytest.fixture
def schedulers(tmp_path):
    group = Schedulers(tmp_path)
    yield group
    group.stop_all()


@pytest.fixture
def two_thousand_artists():
    now = timezone.now()
    zone = due_zone(now)
    plan = Plan.objects.create(code="pro", name="Pro", monthly_credits=10, is_pro=True)
    Opportunity.objects.bulk_create(
        Opportunity(
            title=f"Open call {i}",
            url=f"https://calls.example/{i}",
            kind="open_call",
            deadline=now + dt.timedelta(days=20 + i),
            mediums=["painting"],
            first_seen_at=now,
            last_seen_at=now,
            content_hash=str(i),
        )
        for i in range(12)
    )
    users = User.objects.bulk_create(
        User(
            username=f"artist{i}",
            email=f"artist{i}@drill.test",
            password="!",
            mediums=["painting"],
            timezone=zone,
        )
        for i in range(USERS)
    )
    Subscription.objects.bulk_create(
        Subscription(user=user, plan=plan, billing_anchor=now) for user in users
    )


def test_a_standby_finishes_the_digest_run_of_a_killed_leader(schedulers, two_thousand_artists):
    env = {
        "SCHEDULER_JOB_MODULES": "digests.jobs",
        "SCHEDULE_SEND_WEEKLY_DIGESTS": "interval: 5s",
        "SCHEDULE_SCRAPE_OPPORTUNITIES": "interval: 1d",
        "DIGEST_BATCH_SIZE": "50",
    }
    first_process = schedulers.start(**env)
    first = wait_for(leader, timeout=30, what="a leader")
    schedulers.start(**env)
    wait_for(lambda: DigestEmail.objects.exists(), timeout=60, what="the first digests")
    first_process.send_signal(signal.SIGKILL)
    at_kill = DigestEmail.objects.count()

    wait_for(lambda: leader() not in (None, first) and leader(), timeout=30, what="a new leader")
    wait_for(lambda: DigestEmail.objects.count() == USERS, timeout=120, what="every user's digest")
    schedulers.stop_all()

    assert at_kill < USERS, "the run ended before the kill: the drill did not cut it midway"
    per_user = DigestEmail.objects.values("user").annotate(n=Count("id"))
    assert {row["n"] for row in per_user} == {1}
    assert EmailOutbox.objects.count() == USERS
    assert not DigestEmail.objects.filter(outbox__isnull=True).exists()
    assert EmailOutbox.objects.values("idempotency_key").distinct().count() == USERS
