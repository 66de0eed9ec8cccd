"""The lease lives on the database's clock, which time-machine does not move: tests make
time pass for it by moving the stored times back instead."""

import datetime as dt

from django.db.models import F

from proletto.models import SchedulerLease


def lease_ages(seconds: float) -> None:
    """As if `seconds` passed on the database's clock since the lease was last written."""
    delta = dt.timedelta(seconds=seconds)
    SchedulerLease.objects.filter(expires_at__isnull=False).update(
        expires_at=F("expires_at") - delta
    )
    SchedulerLease.objects.filter(heartbeat_at__isnull=False).update(
        heartbeat_at=F("heartbeat_at") - delta
    )
