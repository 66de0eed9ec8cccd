"""Stripe webhooks: verify an event's signature, apply it once (credit resets, subscriptions)."""

import datetime as dt
import json
import logging

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from billing import periods
from billing.exceptions import BillingError
from billing.models import CreditLedgerEntry, Plan, StripeEvent, Subscription
from billing.services.checkout import checkout_session_completed
from billing.services.credits import credits_reset_for_period

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


def stripe_event_process(*, event: dict, now=None) -> str:
    """Apply a verified Stripe event once and return what happened, in a few words.

    The event id is stored in the same transaction as its effect: a redelivery finds it and
    does nothing, and an event that fails (BillingError) leaves no trace, so Stripe's retry
    gets another chance.
    """
    now = now or timezone.now()
    created = _timestamp(event["created"])
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = StripeEvent.objects.create(
                    event_id=event["id"], type=event["type"][:100], created=created
                )
        except IntegrityError:
            return "replay: already processed"
        handler = _STRIPE_HANDLERS.get(event["type"])
        if handler is None:
            outcome = f"ignored: {event['type']} is not handled"
            logger.info("stripe event %s: %s", event["id"], outcome)
        else:
            outcome = handler(event, created=created, now=now)
        record.outcome = outcome[:255]
        record.save(update_fields=["outcome"])
    return outcome


def _invoice_paid(event, *, created, now) -> str:
    invoice = event["data"]["object"]
    reason = _dig(invoice, "billing_reason")
    if reason != "subscription_cycle":
        return f"ignored: invoice.paid with billing_reason {reason!r}"
    # Current API versions nest it under parent; versions before 2025-03 had it at the top.
    stripe_id = _stripe_id(
        _dig(invoice, "parent", "subscription_details", "subscription")
    ) or _stripe_id(_dig(invoice, "subscription"))
    if not stripe_id:
        raise BillingError("invoice.paid without a subscription id")
    subscription = _local_subscription(stripe_id)
    start, end = _invoice_period(invoice)
    report = credits_reset_for_period(
        subscription_id=subscription.pk,
        period_start=start,
        next_reset_at=end,
        source=Source.WEBHOOK,
        now=now,
    )
    if report.reset:
        return f"reset {report.reset[0].describe()}"
    return f"no reset: {report.skipped[0][1]}"


def _invoice_period(invoice) -> tuple[dt.datetime, dt.datetime | None]:
    # The invoice's own period_start is the *previous* period on subscription_cycle invoices;
    # the subscription line's period is the one just paid for.
    lines = _dig(invoice, "lines", "data")
    for line in lines if isinstance(lines, list) else []:
        start, end = _dig(line, "period", "start"), _dig(line, "period", "end")
        if isinstance(start, int):
            return _timestamp(start), _timestamp(end) if isinstance(end, int) else None
    raise BillingError("invoice.paid without a line period")


def _subscription_changed(event, *, created, now) -> str:
    obj = event["data"]["object"]
    stripe_id = _stripe_id(_dig(obj, "id"))
    if not stripe_id:
        raise BillingError(f"{event['type']} without a subscription id")
    customer_id = _stripe_id(_dig(obj, "customer"))
    subscription = _local_subscription(stripe_id, customer_id=customer_id)

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


def _local_subscription(stripe_id: str, *, customer_id: str | None = None) -> Subscription:
    subscription = Subscription.objects.filter(stripe_subscription_id=stripe_id).first()
    if subscription is None and customer_id:
        # First event of a subscription started at checkout: the customer is known, the
        # subscription id not yet.
        subscription = Subscription.objects.filter(
            stripe_customer_id=customer_id, stripe_subscription_id=""
        ).first()
    if subscription is None:
        raise BillingError(f"unknown subscription {stripe_id}", status=404)
    return subscription


def _timestamp(value: int) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(value, dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise BillingError(f"not a Unix timestamp: {value}") from None


def _dig(value, *path):
    """value[path[0]][path[1]]..., or None where a level is missing or not an object: a
    malformed payload is answered with a 400, never a KeyError."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _stripe_id(value) -> str | None:
    """An id, whether Stripe sent it as a string or as an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


_STRIPE_HANDLERS = {
    "checkout.session.completed": checkout_session_completed,
    "invoice.paid": _invoice_paid,
    "customer.subscription.created": _subscription_changed,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
}
