"""Going Pro: Stripe Checkout (subscription mode) started from /pro/, the customer portal, and
the `checkout.session.completed` webhook that links what Stripe created to the artist.

The webhook, not the browser's return to the success page, is what makes someone Pro: the
success page can be closed, reloaded or forged; the signed event cannot.
"""

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse

from billing import periods
from billing.exceptions import BillingError
from billing.models import CreditLedgerEntry, Plan, Subscription
from billing.selectors import user_is_pro
from billing.services.credits import credits_reset_for_period
from billing.stripe_api import stripe_call, stripe_client

# The metadata keys stripe_events reads on the subscriptions Checkout creates.
PLAN_METADATA_KEY = "plan"
USER_ID_METADATA_KEY = "proletto_user_id"

logger = logging.getLogger(__name__)


def pro_plans() -> list[Plan]:
    """The plans /pro/ sells: Pro plans with a Stripe price, cheapest allowance first."""
    plans = Plan.objects.filter(is_pro=True).order_by("monthly_credits", "name")
    return [plan for plan in plans if plan.stripe_price_ids]


def _absolute(name: str, *args) -> str:
    return settings.SITE_URL + reverse(name, args=args)


def checkout_session_start(*, plan_code: str, user=None, email: str = "") -> str:
    """Create a Checkout Session for the plan's price and return the URL to send the browser
    to. The user is named by `user` (a signed link) or found by `email`; an email no account
    has gets its account when the payment completes."""
    plan = next((p for p in pro_plans() if p.code == plan_code), None)
    if plan is None:
        raise BillingError(f"no Pro plan {plan_code!r} is for sale")
    # Only an account named by a signed link is told it is already Pro: answering that to a
    # typed email would let anyone find out who subscribes. A typed email goes to checkout
    # like any other; paying twice is caught by the webhook (the older one named for refund).
    if user is not None and user_is_pro(user):
        raise BillingError(
            f"{user.email} is already Pro: manage billing from the preferences link in any "
            "Proletto email",
            status=409,
        )
    named_by_link = user is not None
    if user is None and email:
        user = get_user_model().objects.filter(email__iexact=email, is_active=True).first()
    if user is None and not email:
        raise BillingError("an email address is needed to start a subscription")
    subscription = getattr(user, "subscription", None) if user else None
    params = {
        "mode": "subscription",
        # The plan's first price is the one /pro/ sells (its other ids are older prices).
        "line_items": [{"price": plan.stripe_price_ids[0], "quantity": 1}],
        "success_url": _absolute("pro:success") + "?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": _absolute("pro:cancel"),
        "metadata": {PLAN_METADATA_KEY: plan.code},
        # On the subscription too: its own events find their owner from it (stripe_events).
        "subscription_data": {"metadata": {PLAN_METADATA_KEY: plan.code}},
    }
    if user is not None:
        params["client_reference_id"] = str(user.pk)
        params["subscription_data"]["metadata"][USER_ID_METADATA_KEY] = str(user.pk)
    if named_by_link and subscription is not None and subscription.stripe_customer_id:
        # Stripe's page shows a known customer's email and saved cards: only to the owner.
        params["customer"] = subscription.stripe_customer_id
    else:
        params["customer_email"] = user.email if user is not None else email
    client = stripe_client()
    session = stripe_call(
        "could not start checkout", lambda: client.v1.checkout.sessions.create(params=params)
    )
    return session.url


def billing_portal_session_start(*, user, return_url: str) -> str:
    """A Stripe customer portal session for the user's customer; its URL."""
    subscription = Subscription.objects.filter(user=user).first()
    if subscription is None or not subscription.stripe_customer_id:
        raise BillingError("no Stripe customer is linked to this account", status=404)
    client = stripe_client()
    session = stripe_call(
        "could not open the billing portal",
        lambda: client.v1.billing_portal.sessions.create(
            params={"customer": subscription.stripe_customer_id, "return_url": return_url}
        ),
    )
    return session.url


# --- the webhook: checkout.session.completed --------------------------------------------------


def checkout_session_completed(event: dict, *, created: dt.datetime, now: dt.datetime) -> str:
    """Link the Stripe customer and subscription to the artist and make them Pro.

    Called by stripe_event_process inside the transaction that records the event id, so a
    redelivered event does nothing. The subscription starts monthly from the event's time;
    Stripe's customer.subscription.created/updated (never older than what was applied) then
    bring the price's true interval and anchor.
    """
    session = event["data"]["object"]
    if session.get("mode") != "subscription":
        return f"ignored: checkout in mode {session.get('mode')!r}"
    subscription_id = _id(session.get("subscription"))
    customer_id = _id(session.get("customer"))
    if not subscription_id or not customer_id:
        raise BillingError("checkout.session.completed without a customer and a subscription")
    plan = _plan_of(session)
    user = _user_of(session)
    taken = Subscription.objects.filter(stripe_subscription_id=subscription_id).first()
    if taken is not None and taken.user_id != user.pk:
        raise BillingError(f"{subscription_id} is already linked to another account", status=409)
    with transaction.atomic():
        # get_or_create: a concurrent first checkout of the same user (two events at once)
        # meets the one-subscription-per-user constraint and then waits on the row it made.
        row, _ = Subscription.objects.select_for_update().get_or_create(
            user=user,
            defaults={"plan": plan, "billing_anchor": created, "credits_balance": 0},
        )
        replaced = row.stripe_subscription_id if row.is_entitled else ""
        if row.stripe_subscription_id == subscription_id:
            return f"already linked: {subscription_id} to user {user.pk}"
        row.plan = plan
        row.interval = Subscription.Interval.MONTHLY
        row.status = Subscription.Status.ACTIVE
        row.billing_anchor = created
        row.next_credit_reset_at = periods.next_period_start(created, now)
        row.stripe_customer_id = customer_id
        row.stripe_subscription_id = subscription_id
        row.stripe_synced_at = None  # the new subscription's own events all apply
        row.save()
        credits_reset_for_period(
            subscription_id=row.pk,
            period_start=created,
            next_reset_at=None,
            source=CreditLedgerEntry.Source.WEBHOOK,
            now=now,
        )
    outcome = f"linked {subscription_id} ({customer_id}) to user {user.pk}: {plan.code}"
    if replaced:
        # Paid twice (two tabs, two checkouts): both charges are real, so the newer one is
        # linked and the older one named for an operator to cancel and refund.
        logger.warning("user %s paid again: %s replaces %s", user.pk, subscription_id, replaced)
        outcome += f"; replaced {replaced}, cancel and refund it at Stripe"
    return outcome


def _plan_of(session: dict) -> Plan:
    metadata = session.get("metadata") if isinstance(session.get("metadata"), dict) else {}
    code = metadata.get(PLAN_METADATA_KEY)
    plan = Plan.objects.filter(code=code, is_pro=True).first() if isinstance(code, str) else None
    if plan is None:
        raise BillingError(f"checkout session names no Pro plan in its metadata (got {code!r})")
    return plan


def _user_of(session: dict):
    users = get_user_model().objects
    reference = session.get("client_reference_id")
    if reference:
        user = users.filter(pk=reference).first() if str(reference).isdigit() else None
        if user is None:
            raise BillingError(f"client_reference_id {reference!r} names no account", status=404)
        return user
    details = session.get("customer_details")
    email = (details.get("email") if isinstance(details, dict) else None) or session.get(
        "customer_email"
    )
    if not isinstance(email, str) or "@" not in email:
        raise BillingError("checkout session has neither client_reference_id nor an email")
    user = users.filter(email__iexact=email).order_by("pk").first()
    if user is None:
        user = users.create_user(username=email[:150], email=email)
    return user


def _id(value) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None
