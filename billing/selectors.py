from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from billing.models import Subscription


def pro_subscribers() -> QuerySet:
    """The one definition of "Pro subscriber": an active or trialing subscription to a Pro plan.

    Everything that treats Pro users differently (the weekly digest, upsell conversion) asks
    this queryset, so the rule changes in one place.
    """
    return get_user_model().objects.filter(
        is_active=True,
        subscription__plan__is_pro=True,
        subscription__status__in=Subscription.ENTITLED_STATUSES,
    )


def user_is_pro(user) -> bool:
    return pro_subscribers().filter(pk=user.pk).exists()
