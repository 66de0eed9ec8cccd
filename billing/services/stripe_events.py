"""Stripe webhooks: verify an event's signature, apply it once (credit resets, subscriptions)."""

import json
import logging

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from billing import periods, stripe_periods, stripe_subscriptions
from billing.exceptions import BillingError
from billing.models import CreditLedgerEntry, Plan, StripeEvent, Subscription
from billing.services.checkout import (
    PLAN_METADATA_KEY,
    USER_ID_METADATA_KEY,
    checkout_session_completed,
)
from billing.services.credits import credits_reset_for_period
from billing.stripe_payload import dig as _dig
from billing.stripe_payload import stripe_id as _stripe_id
from billing.stripe_payload import timestamp as _timestamp

logger = logging.getLogger(__name__)

Source = CreditLedgerEntry.Source

# Stripe statuses we do not model ourselves, mapped onto ours.
_STRIPE_STATUS = {"incomplete_expired": Subscription.Status.CANCELED}
_STRIPE_INTERVAL = {"month": Subscription.Interval.MONTHLY, "year": Subscription.Interval.YEARLY}


def stripe_event_verify(*, payload: bytes, signature: str | None) -> dict:
    """Check the Stripe-Signature header over the raw body with the official library and
    return the parsed event; BillingError (400) with the reason otherwise."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise BillingError("STRIPE_WEBHOOK_SECRET is not configured", status=503)
    if not signature:
        raise BillingError("missing Stripe-Signature header")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise BillingError("body is not UTF-8") from None
    try:
        stripe.WebhookSignature.verify_header(
            text, signature, secret, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError as exc:
        raise BillingError(f"bad signature: {exc.user_message}") from None
    try:
        event = json.loads(text)
    except ValueError:
        raise BillingError("body is not JSON") from None
    if not (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("created"), int)
        and isinstance(_dig(event, "data", "object"), dict)
    ):
        raise BillingError("not a Stripe event: id, type, created and data.object are required")
    return event


class _NeedsAttention(Exception):
    """The event cannot be applied until something changes (the message says what).
    `retryable`: Stripe's own retry may succeed without anyone acting."""

    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


class _NotOurs(Exception):
    """The event is about a subscription that belongs to no user: nothing to apply, ever."""


def stripe_event_process(*, event: dict, now=None, again: bool = False) -> str:
    """Apply a verified Stripe event once and return what happened, in a few words.

    The event id is stored with its state in the same transaction as its effect: a redelivery
    of a processed or ignored event does nothing (`again` processes it anyway: the admin). An
    event that cannot be applied is stored as needing attention, with its payload, and tried
    again on redelivery: answered 200 when only a person can fix the cause, and BillingError
    503 when Stripe's retry can succeed by itself (Stripe was unreachable). Bad input
    (BillingError 4xx) leaves no trace. Stripe's API is asked before the transaction opens,
    so no row is locked during a network call.
    """
    now = now or timezone.now()
    created = _timestamp(event["created"])
    state = StripeEvent.objects.filter(event_id=event["id"]).values_list("state", flat=True)
    if not again and state.first() in StripeEvent.FINAL_STATES:
        return "replay: already processed"
    handler = _STRIPE_HANDLERS.get(event["type"])
    try:
        prepared = _STRIPE_PREPARERS.get(event["type"], _nothing_to_prepare)(event)
    except _NeedsAttention as exc:
        outcome = f"needs attention: {exc}"
        _stripe_event_record(event, created=created, now=now, outcome=outcome, again=again)
        if exc.retryable:
            raise BillingError(f"{outcome} (Stripe will retry)", status=503) from None
        return outcome
    except _NotOurs as exc:
        prepared, ignored = None, f"ignored: {exc}"
    else:
        ignored = None
    with transaction.atomic():
        record, fresh = _stripe_event_locked(event, created=created, now=now)
        if not fresh and not again and record.state in StripeEvent.FINAL_STATES:
            return "replay: already processed"
        if ignored:
            outcome, record.state, record.payload = ignored, StripeEvent.State.IGNORED, event
        elif handler is None:
            outcome = f"ignored: {event['type']} is not handled"
            record.state, record.payload = StripeEvent.State.PROCESSED, None
            logger.info("stripe event %s: %s", event["id"], outcome)
        else:
            outcome = handler(event, created=created, now=now, **prepared)
            record.state, record.payload = StripeEvent.State.PROCESSED, None
        record.outcome = outcome[:255]
        record.save(update_fields=["state", "outcome", "payload", "attempts", "updated_at"])
    return outcome


def stripe_events_process_again(*, event_ids) -> list[str]:
    """Process stored events again from their payloads (the admin, once the cause of
    "needs attention" is fixed, or a user was linked to an ignored subscription)."""
    outcomes = []
    for record in StripeEvent.objects.filter(pk__in=list(event_ids)).order_by("pk"):
        if record.payload is None:
            outcomes.append(f"{record.event_id}: nothing to process again ({record.state})")
            continue
        try:
            outcome = stripe_event_process(event=record.payload, again=True)
        except BillingError as exc:
            outcome = str(exc)
        outcomes.append(outcome)
    return outcomes


def _stripe_event_locked(event, *, created, now) -> tuple[StripeEvent, bool]:
    """The event's row, locked, created if new (a concurrent delivery waits, then sees it)."""
    try:
        with transaction.atomic():
            record = StripeEvent.objects.create(
                event_id=event["id"], type=event["type"][:100], created=created, updated_at=now
            )
        return record, True
    except IntegrityError:
        record = StripeEvent.objects.select_for_update().get(event_id=event["id"])
        record.attempts += 1
        record.updated_at = now
        return record, False


def _stripe_event_record(event, *, created, now, outcome, again) -> None:
    """Store an event that needs attention, with its payload, unless a concurrent delivery
    has applied it meanwhile."""
    with transaction.atomic():
        record, fresh = _stripe_event_locked(event, created=created, now=now)
        if not fresh and not again and record.state in StripeEvent.FINAL_STATES:
            return
        record.state = StripeEvent.State.NEEDS_ATTENTION
        record.outcome, record.payload = outcome[:255], event
        record.save(update_fields=["state", "outcome", "payload", "attempts", "updated_at"])
    logger.warning("stripe event %s (%s): %s", event["id"], event["type"], outcome)


def _nothing_to_prepare(event) -> dict:
    return {}


def _invoice_paid_prepare(event) -> dict:
    """Which local subscription and which period, asking Stripe for the subscription when the
    invoice's lines do not say the period or the subscription is not linked here."""
    invoice = event["data"]["object"]
    if _dig(invoice, "billing_reason") != "subscription_cycle":
        return {}
    # Current API versions nest it under parent; versions before 2025-03 had it at the top.
    stripe_id = _stripe_id(
        _dig(invoice, "parent", "subscription_details", "subscription")
    ) or _stripe_id(_dig(invoice, "subscription"))
    if not stripe_id:
        raise BillingError("invoice.paid without a subscription id")
    fetched = None
    subscription = _local_subscription(stripe_id)
    if subscription is None:
        fetched = _stripe_subscription(stripe_id)
        subscription = _subscription_owner(fetched, stripe_id=stripe_id)
    try:
        period = stripe_periods.invoice_subscription_period(invoice, subscription_id=stripe_id)
    except stripe_periods.PeriodUnclear as unclear:
        try:
            fetched = fetched or _stripe_subscription(stripe_id, why=f"the invoice has {unclear}")
            period = stripe_periods.subscription_current_period(fetched)
        except _NotOurs as missing:  # linked here, gone at Stripe: a person must look
            raise _NeedsAttention(f"the invoice has {unclear}; {missing}") from None
        except stripe_periods.PeriodUnclear as also_unclear:
            raise _NeedsAttention(
                f"period unknown: the invoice has {unclear}; {stripe_id} at Stripe: {also_unclear}"
            ) from None
    return {"subscription": subscription, "stripe_id": stripe_id, "period": period}


def _invoice_paid(event, *, created, now, subscription=None, stripe_id=None, period=None) -> str:
    invoice = event["data"]["object"]
    reason = _dig(invoice, "billing_reason")
    if reason != "subscription_cycle":
        return f"ignored: invoice.paid with billing_reason {reason!r}"
    if period.end <= now:
        # Granting a period that is over would move the next reset into the past; the invoice
        # of the period that followed it grants the credits.
        return (
            f"no reset: the period {period.start:%Y-%m-%d %H:%M} to "
            f"{period.end:%Y-%m-%d %H:%M} UTC has ended"
        )
    if subscription.stripe_subscription_id != stripe_id:
        _subscription_link(subscription, stripe_id=stripe_id, now=now)
    report = credits_reset_for_period(
        subscription_id=subscription.pk,
        period_start=period.start,
        next_reset_at=period.end,
        source=Source.WEBHOOK,
        now=now,
    )
    if report.reset:
        return f"reset {report.reset[0].describe()}"
    return f"no reset: {report.skipped[0][1]}"


def _subscription_changed_prepare(event) -> dict:
    """The subscription is the event's object: no need to ask Stripe whose it is."""
    obj = event["data"]["object"]
    stripe_id = _stripe_id(_dig(obj, "id"))
    if not stripe_id:
        raise BillingError(f"{event['type']} without a subscription id")
    customer_id = _stripe_id(_dig(obj, "customer"))
    subscription = _local_subscription(stripe_id, customer_id=customer_id)
    if subscription is None:
        subscription = _subscription_owner(obj, stripe_id=stripe_id)
    return {"subscription": subscription}


def _subscription_changed(event, *, created, now, subscription) -> str:
    obj = event["data"]["object"]
    stripe_id = _stripe_id(_dig(obj, "id"))
    customer_id = _stripe_id(_dig(obj, "customer"))

    if event["type"] == "customer.subscription.deleted":
        status = Subscription.Status.CANCELED
    else:
        status = _dig(obj, "status")
        status = _STRIPE_STATUS.get(status, status) if isinstance(status, str) else status
        if status not in Subscription.Status.values:
            raise BillingError(f"unknown subscription status {_dig(obj, 'status')!r}")
    changes = {
        "status": status,
        "stripe_subscription_id": stripe_id,
        "stripe_synced_at": created,
        "updated_at": now,
    }
    if customer_id:
        changes["stripe_customer_id"] = customer_id
    price = _subscription_price(obj)
    if price is not None:
        changes["plan"] = _plan_for_price(price["id"])
        interval = _dig(price, "recurring", "interval")
        if interval not in _STRIPE_INTERVAL:
            raise BillingError(f"unsupported billing interval {interval!r} on {price['id']}")
        changes["interval"] = _STRIPE_INTERVAL[interval]
    if isinstance(_dig(obj, "billing_cycle_anchor"), int):
        changes["billing_anchor"] = _timestamp(obj["billing_cycle_anchor"])
    anchor = changes.get("billing_anchor", subscription.billing_anchor)
    interval = changes.get("interval", subscription.interval)
    if anchor != subscription.billing_anchor or interval != subscription.interval:
        changes["next_credit_reset_at"] = periods.next_period_start(anchor, now)

    # Stripe does not promise delivery order: only an event at least as new as the last one
    # applied may change the row, and the WHERE makes that hold against a concurrent delivery.
    applied = (
        Subscription.objects.filter(pk=subscription.pk)
        .filter(Q(stripe_synced_at__isnull=True) | Q(stripe_synced_at__lte=created))
        .update(**changes)
    )
    if not applied:
        return f"ignored: older than the last applied event for {stripe_id}"
    return f"synced {stripe_id}: status {status}"


def _subscription_price(obj) -> dict | None:
    items = _dig(obj, "items", "data")
    for item in items if isinstance(items, list) else []:
        price = _dig(item, "price") or _dig(item, "plan")
        if isinstance(price, dict) and isinstance(price.get("id"), str):
            return price
    return None


def _plan_for_price(price_id: str) -> Plan:
    # A handful of plans: matching in Python keeps it portable (JSON `contains` is not on SQLite).
    for plan in Plan.objects.all():
        if price_id in (plan.stripe_price_ids or []):
            return plan
    raise BillingError(f"no plan has Stripe price {price_id} in its stripe_price_ids")


def _local_subscription(stripe_id: str, *, customer_id: str | None = None) -> Subscription | None:
    subscription = Subscription.objects.filter(stripe_subscription_id=stripe_id).first()
    if subscription is None and customer_id:
        # First event of a subscription started at checkout: the customer is known, the
        # subscription id not yet.
        subscription = Subscription.objects.filter(
            stripe_customer_id=customer_id, stripe_subscription_id=""
        ).first()
    return subscription


# Proletto's Checkout (billing/services/checkout.py) puts the user, when known, and the plan
# sold in the metadata of the subscriptions it creates: PLAN_METADATA_KEY, USER_ID_METADATA_KEY.


def _stripe_subscription(stripe_id: str, *, why: str = "") -> dict:
    """The subscription from Stripe's API, asked once; a failure becomes the event's state."""
    try:
        return stripe_subscriptions.stripe_subscription_fetch(stripe_id)
    except stripe_subscriptions.StripeObjectMissing as exc:
        raise _NotOurs(str(exc)) from None
    except stripe_subscriptions.StripeFetchError as exc:
        raise _NeedsAttention(
            f"{why + ': ' if why else ''}{exc}", retryable=exc.retryable
        ) from None


def _subscription_owner(obj: dict, *, stripe_id: str) -> Subscription:
    """The local subscription a Stripe subscription we have not linked belongs to: its
    customer's (not linked to another subscription yet), or the user's named in its
    metadata. _NotOurs when it belongs to no user."""
    customer_id = _stripe_id(_dig(obj, "customer"))
    subscription = _local_subscription(stripe_id, customer_id=customer_id)
    if subscription is not None:
        return subscription
    user_id = _dig(obj, "metadata", USER_ID_METADATA_KEY)
    plan_code = _dig(obj, "metadata", PLAN_METADATA_KEY)
    if not (isinstance(user_id, str) and user_id.isdigit()):
        if isinstance(plan_code, str) and Plan.objects.filter(code=plan_code).exists():
            # Started by our Checkout; its checkout.session.completed links it, and Stripe's
            # retry of this event comes after that.
            raise _NeedsAttention(
                f"subscription {stripe_id} was sold by Proletto's Checkout (plan {plan_code}) "
                "but is not linked to a user yet",
                retryable=True,
            )
        raise _NotOurs(
            f"subscription {stripe_id} belongs to no Proletto user (customer {customer_id} is "
            f"not linked, no {USER_ID_METADATA_KEY} in its metadata)"
        )
    subscription = Subscription.objects.filter(user_id=int(user_id)).first()
    if subscription is None:
        # Checkout's own event creates the row; Stripe's retry comes after it.
        raise _NeedsAttention(
            f"subscription {stripe_id} is for user {user_id}, who has no subscription row yet",
            retryable=True,
        )
    if subscription.stripe_subscription_id not in ("", stripe_id):
        raise _NeedsAttention(
            f"subscription {stripe_id} is for user {user_id}, whose subscription is linked to "
            f"{subscription.stripe_subscription_id}"
        )
    return subscription


def _subscription_link(subscription: Subscription, *, stripe_id: str, now) -> None:
    Subscription.objects.filter(pk=subscription.pk).update(
        stripe_subscription_id=stripe_id, updated_at=now
    )
    subscription.stripe_subscription_id = stripe_id


# What a handler needs from the database or Stripe's API, read before its transaction opens.
_STRIPE_PREPARERS = {
    "invoice.paid": _invoice_paid_prepare,
    "customer.subscription.created": _subscription_changed_prepare,
    "customer.subscription.updated": _subscription_changed_prepare,
    "customer.subscription.deleted": _subscription_changed_prepare,
}

_STRIPE_HANDLERS = {
    "checkout.session.completed": checkout_session_completed,
    "invoice.paid": _invoice_paid,
    "customer.subscription.created": _subscription_changed,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
}
