"""Leadership among schedulers: the lease, live instances, runs cut off by a new leader."""

import datetime as dt
import time

from django.db.models import DateTimeField, ExpressionWrapper, Q
from django.db.models.functions import Now
from django_apscheduler.models import DjangoJobExecution

from proletto.models import SchedulerInstance, SchedulerLease
from proletto.scheduling.statuses import INTERRUPTED, STARTED

LEASE_NAME = "scheduler"


def lease_acquire(*, holder: str, seconds: float) -> bool:
    """Take or renew the lease; True if `holder` leads for `seconds` from now.

    Every time is the database's (Now() in the conditional UPDATEs): schedulers on hosts whose
    clocks disagree still agree on when a lease has expired.
    """
    SchedulerLease.objects.get_or_create(name=LEASE_NAME)
    expires_at = ExpressionWrapper(
        Now() + dt.timedelta(seconds=seconds), output_field=DateTimeField()
    )
    renewed = SchedulerLease.objects.filter(name=LEASE_NAME, holder=holder).update(
        expires_at=expires_at, heartbeat_at=Now()
    )
    if renewed:
        return True
    taken = (
        SchedulerLease.objects.filter(name=LEASE_NAME)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__lt=Now()))
        .update(holder=holder, acquired_at=Now(), expires_at=expires_at, heartbeat_at=Now())
    )
    return bool(taken)


def lease_release(*, holder: str) -> None:
    SchedulerLease.objects.filter(name=LEASE_NAME, holder=holder).update(holder="", expires_at=None)


def instance_beat(
    *, holder: str, now: dt.datetime | None = None, kind=SchedulerInstance.Kind.SCHEDULER
) -> None:
    """Say this process (leader, standby or `runjob`) is alive: the status page counts the
    standbys, and the runs it owns are not orphans. On the database's clock unless `now` is
    given."""
    now = now or Now()
    if not SchedulerInstance.objects.filter(holder=holder).update(seen_at=now):
        SchedulerInstance.objects.bulk_create(
            [SchedulerInstance(holder=holder, kind=kind, started_at=now, seen_at=now)],
            ignore_conflicts=True,
        )


def instance_forget(*, holder: str) -> None:
    SchedulerInstance.objects.filter(holder=holder).delete()


def instances_prune(*, now: dt.datetime | None = None) -> int:
    """Forget processes that died without saying so (kill -9) a day ago or more."""
    deleted, _ = SchedulerInstance.objects.filter(
        seen_at__lt=before_now(dt.timedelta(days=1), now)
    ).delete()
    return deleted


def executions_interrupt(*, reason: str, execution_ids=None, exclude_ids=()) -> int:
    """Mark runs that will never finish (cut off at shutdown, or their process died)."""
    rows = DjangoJobExecution.objects.filter(status=STARTED).exclude(pk__in=list(exclude_ids))
    if execution_ids is not None:
        rows = rows.filter(pk__in=list(execution_ids))
    return rows.update(status=INTERRUPTED, exception=reason[:1000], finished=time.time())


def before_now(delta: dt.timedelta, now: dt.datetime | None = None):
    """`delta` before `now`, or before the database's Now() (the clock the beats are on)."""
    if now is not None:
        return now - delta
    return ExpressionWrapper(Now() - delta, output_field=DateTimeField())
