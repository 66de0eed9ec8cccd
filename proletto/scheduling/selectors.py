"""Reads of the scheduling runtime: who leads, how fresh its heartbeat is, how jobs fare."""

import datetime as dt

from django.conf import settings
from django.db.models import Avg, Max, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Now
from django.utils import timezone
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from proletto.models import SchedulerInstance, SchedulerLease
from proletto.scheduling.leadership import LEASE_NAME, before_now

RECENT_RUNS = 20


def scheduler_status(*, with_jobs: bool = True) -> dict:
    """{'state', 'leader', 'heartbeat_at', 'heartbeat_age_seconds', 'alive', 'standbys',
    'jobs': [...]}; state is 'alive', 'stale', 'stopped' or 'never started'.

    `alive` means a leader holds an unexpired lease and its heartbeat is younger than
    SCHEDULER_HEARTBEAT_STALE_SECONDS.
    """
    # The lease is written on the database's clock: judge it on the same clock.
    lease = SchedulerLease.objects.filter(name=LEASE_NAME).annotate(db_now=Now()).first()
    now = lease.db_now if lease else timezone.now()
    leader = lease.holder if lease and lease.holder else None
    heartbeat_at = lease.heartbeat_at if lease else None
    age = (now - heartbeat_at).total_seconds() if heartbeat_at else None
    alive = bool(
        leader
        and lease.expires_at
        and lease.expires_at > now
        and age is not None
        and age < settings.SCHEDULER_HEARTBEAT_STALE_SECONDS
    )
    # A process beats every lease/3 s; one not seen for a stale heartbeat's time is gone.
    seen_since = before_now(dt.timedelta(seconds=settings.SCHEDULER_HEARTBEAT_STALE_SECONDS))
    live = SchedulerInstance.objects.filter(
        seen_at__gte=seen_since, kind=SchedulerInstance.Kind.SCHEDULER
    ).exclude(holder=leader or "")
    if alive:
        state = "alive"
    elif leader:
        state = "stale"  # holds a lease it no longer renews: hung, or cut off from the database
    elif heartbeat_at:
        state = "stopped"  # released its lease (a clean shutdown) and none took over
    else:
        state = "never started"
    status = {
        "state": state,
        "leader": leader,
        "heartbeat_at": heartbeat_at.isoformat() if heartbeat_at else None,
        "heartbeat_age_seconds": round(age, 1) if age is not None else None,
        "alive": alive,
        "standbys": live.count(),
    }
    if with_jobs:
        status["jobs"] = [
            {
                "id": job.id,
                "next_run_time": job.next_run_time.isoformat() if job.next_run_time else None,
                "paused": job.next_run_time is None,
                "last_run_status": job.last_status,
                "last_run_time": job.last_run_time.isoformat() if job.last_run_time else None,
            }
            for job in jobs_with_stats().order_by("id")
        ]
    return status


def jobs_with_stats(queryset=None):
    """Jobs annotated with last status/run time, last success and average real duration,
    with their recent runs prefetched: a constant number of queries for any page size."""
    queryset = DjangoJob.objects.all() if queryset is None else queryset
    latest = DjangoJobExecution.objects.filter(job_id=OuterRef("pk")).order_by("-run_time")
    return queryset.annotate(
        last_status=Subquery(latest.values("status")[:1]),
        last_run_time=Subquery(latest.values("run_time")[:1]),
        last_success=Max(
            "djangojobexecution__run_time",
            filter=Q(djangojobexecution__status=DjangoJobExecution.SUCCESS),
        ),
        avg_duration=Avg(
            "djangojobexecution__duration",
            filter=Q(djangojobexecution__status=DjangoJobExecution.SUCCESS),
        ),
    ).prefetch_related(
        Prefetch(
            "djangojobexecution_set",
            queryset=DjangoJobExecution.objects.select_related("run").order_by("-run_time")[
                :RECENT_RUNS
            ],
            to_attr="recent_runs",
        )
    )
