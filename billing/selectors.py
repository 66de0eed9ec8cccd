from django.contrib.auth import get_user_model
from django.db.models import Count, Min, QuerySet

from billing.models import StripeEvent, Subscription


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


def subscriptions_due_for_reset(*, now) -> QuerySet:
    """Yearly subscriptions whose next monthly credit reset has come. Monthly plans are reset by
    Stripe's invoice.paid webhook instead; canceled, past-due and unpaid ones keep their credits
    frozen until Stripe says they are active again."""
    return Subscription.objects.filter(
        interval=Subscription.Interval.YEARLY,
        status__in=Subscription.ENTITLED_STATUSES,
        next_credit_reset_at__lte=now,
    )


def user_subscription(user) -> Subscription | None:
    """The user's subscription with its plan (one query), or None."""
    return Subscription.objects.select_related("plan").filter(user=user).first()


def stripe_events_needing_attention() -> dict:
    """How many Stripe events wait for a person, since when, and why the oldest waits."""
    waiting = StripeEvent.objects.filter(state=StripeEvent.State.NEEDS_ATTENTION)
    summary = waiting.aggregate(count=Count("id"), oldest=Min("received_at"))
    oldest = waiting.order_by("received_at", "pk").values("event_id", "outcome").first()
    return {**summary, "oldest_event": oldest}
