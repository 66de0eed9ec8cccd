"""Reads of opportunities and sources that more than one caller needs."""

from django.db.models import Q, QuerySet
from django.utils import timezone

from digests.models import Opportunity, OpportunitySource


def open_opportunities(*, now=None) -> QuerySet[Opportunity]:
    """Opportunities one can still apply to: active, and a deadline not passed (or rolling).

    The one definition of "open": the digest and the admin both use it, so an opportunity
    the expiry sweep has not reached yet is still left out once its deadline has passed.
    """
    now = now or timezone.now()
    return Opportunity.objects.filter(status=Opportunity.Status.ACTIVE).filter(
        Q(deadline__isnull=True) | Q(deadline__gte=now)
    )


def sources_due(*, now=None) -> QuerySet[OpportunitySource]:
    now = now or timezone.now()
    return OpportunitySource.objects.filter(enabled=True).filter(
        Q(next_fetch_at__isnull=True) | Q(next_fetch_at__lte=now)
    )


def sources_failing(*, min_failures: int = 1) -> QuerySet[OpportunitySource]:
    """Enabled sources whose last `min_failures` or more fetches failed (for the maintenance
    bot and the admin): the worst first."""
    return OpportunitySource.objects.filter(
        enabled=True, consecutive_failures__gte=min_failures
    ).order_by("-consecutive_failures", "name")
