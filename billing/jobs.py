from django.conf import settings
from django.db import close_old_connections, connection

from billing.models import CreditLedgerEntry
from billing.services.credits import credits_reset_due
from proletto.scheduling.registry import ScheduledJob
from proletto.scheduling.triggers import WallClockCronTrigger


def reset_monthly_credits() -> dict:
    """Monthly credit reset of yearly plans (monthly plans are reset by Stripe's webhook)."""
    _close_stale_connections()
    try:
        return credits_reset_due(source=CreditLedgerEntry.Source.JOB).counts()
    finally:
        _close_stale_connections()


def _close_stale_connections():
    # A caller's open transaction (a test, a command wrapping the job) owns the connection.
    if not connection.in_atomic_block:
        close_old_connections()


JOBS = [
    ScheduledJob(
        id="reset_monthly_credits",
        func=reset_monthly_credits,
        trigger=WallClockCronTrigger(hour=2, minute=0, timezone=settings.TIME_ZONE),
        description="Reset the monthly credits of yearly subscriptions whose reset is due; "
        "catches up once after downtime.",
        # A day late is still worth doing; the reset catches up to the current period anyway.
        misfire_grace_time=60 * 60 * 22,
    ),
]
