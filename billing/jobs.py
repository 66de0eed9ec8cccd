from django.conf import settings

from billing.models import CreditLedgerEntry
from billing.services.credits import credits_reset_due
from proletto.scheduling.registry import ScheduledJob
from proletto.scheduling.triggers import WallClockCronTrigger


def reset_monthly_credits() -> dict:
    """Monthly credit reset of yearly plans (monthly plans are reset by Stripe's webhook)."""
    return credits_reset_due(source=CreditLedgerEntry.Source.JOB).counts()


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
