"""Which period a Stripe invoice pays for, read from its lines, and a subscription's current
period, read from the object Stripe's API returns. Pure functions over Stripe's JSON, in both
the current API shape and the one before 2025-03-31.

An invoice's own `period_start`/`period_end` is the period that just ended on a cycle invoice,
and its first line can be a one-off item or a proration: only the subscription lines (not
prorations) say which period was paid for. When they do not say it once and clearly, the
caller asks Stripe for the subscription instead of guessing.
"""

import datetime as dt
from dataclasses import dataclass

from billing.exceptions import BillingError
from billing.stripe_payload import dig as _dig
from billing.stripe_payload import stripe_id as _id
from billing.stripe_payload import timestamp as _timestamp


@dataclass(frozen=True)
class Period:
    start: dt.datetime
    end: dt.datetime


class PeriodUnclear(Exception):
    """The payload does not say which period was paid for (the message says why)."""


def invoice_subscription_period(invoice: dict, *, subscription_id: str) -> Period:
    """The period of the invoice's subscription lines; PeriodUnclear when there is none (only
    one-off items or prorations), when they differ, or when the event does not carry every
    line; BillingError (400) when a line is malformed."""
    lines = _dig(invoice, "lines", "data")
    if not isinstance(lines, list):
        raise BillingError("invoice.paid: lines.data is not a list")
    found, prorations = set(), 0
    for line in lines:
        start, end = _line_period(line)
        line_subscription, is_subscription_line, is_proration = _line_source(line)
        if line_subscription not in (None, subscription_id):
            continue
        if is_proration:
            prorations += 1
        elif is_subscription_line and end > start:
            found.add(Period(start, end))
    if _dig(invoice, "lines", "has_more") is True:
        raise PeriodUnclear("the event carries only the first page of the invoice's lines")
    if len(found) > 1:
        spans = ", ".join(f"{p.start:%Y-%m-%d}..{p.end:%Y-%m-%d}" for p in sorted(found, key=_key))
        raise PeriodUnclear(f"subscription lines with {len(found)} different periods ({spans})")
    if not found:
        if prorations:
            raise PeriodUnclear(f"only proration lines ({prorations}), no subscription line")
        raise PeriodUnclear(f"no subscription line among {len(lines)} line(s)")
    return found.pop()


def subscription_current_period(subscription: dict) -> Period:
    """The current period of a subscription as Stripe's API returns it: on each item in the
    current API (they must agree), on the subscription itself before 2025-03-31."""
    items = _dig(subscription, "items", "data")
    found = set()
    for item in items if isinstance(items, list) else []:
        start, end = _dig(item, "current_period_start"), _dig(item, "current_period_end")
        if isinstance(start, int) and isinstance(end, int):
            found.add(Period(_timestamp(start), _timestamp(end)))
    if not found:
        start = _dig(subscription, "current_period_start")
        end = _dig(subscription, "current_period_end")
        if isinstance(start, int) and isinstance(end, int):
            found.add(Period(_timestamp(start), _timestamp(end)))
    if len(found) > 1:
        raise PeriodUnclear(f"its items are in {len(found)} different periods")
    if not found:
        raise PeriodUnclear("Stripe's subscription has no current period")
    period = found.pop()
    if period.end <= period.start:
        raise PeriodUnclear(f"its current period is empty ({period.start:%Y-%m-%d %H:%M})")
    return period


def _line_source(line: dict) -> tuple[str | None, bool, bool]:
    """(subscription id, billed for a subscription item, is a proration) of a line."""
    parent = line.get("parent")
    if parent is not None:
        if not isinstance(parent, dict):
            raise BillingError("invoice.paid: a line's parent is not an object")
        kind = parent.get("type")
        details = parent.get(kind) if isinstance(kind, str) else None
        if not isinstance(details, dict):
            return None, False, False
        return (
            _id(details.get("subscription")),
            kind == "subscription_item_details",
            details.get("proration") is True,
        )
    return (
        _id(line.get("subscription")),
        line.get("type") == "subscription",
        line.get("proration") is True,
    )


def _line_period(line) -> tuple[dt.datetime, dt.datetime]:
    start, end = _dig(line, "period", "start"), _dig(line, "period", "end")
    if not (isinstance(start, int) and isinstance(end, int)):
        raise BillingError("invoice.paid: a line without a period of Unix timestamps")
    return _timestamp(start), _timestamp(end)


def _key(period: Period):
    return period.start, period.end
