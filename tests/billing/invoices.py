"""Invoices shaped like the ones Stripe sends, in both API shapes, for table-driven tests.

Current shape (API 2025-03-31 and later): each line says where it comes from in
`parent.type` (`subscription_item_details` or `invoice_item_details`), the price in `pricing`,
and proration inside the parent's details. Legacy shape (before it): `type` is `subscription`
or `invoiceitem`, with `subscription`, `subscription_item`, `plan`/`price` and `proration` on
the line itself, and the invoice's `subscription` at the top.

A one-off invoice item without a service period has `period.start == period.end`: the
instant it was created. Proration lines cover the rest of a period from the moment of the
change. Discounts change amounts, never lines.
"""

import datetime as dt
import itertools

_numbers = itertools.count(1)


def ts(value: dt.datetime) -> int:
    return int(value.timestamp())


def _next(prefix: str) -> str:
    return f"{prefix}_{next(_numbers):05d}"


def _price(price_id: str, interval: str, amount: int) -> dict:
    return {
        "id": price_id,
        "object": "price",
        "active": True,
        "currency": "eur",
        "product": f"prod_{price_id}",
        "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed"},
        "type": "recurring",
        "unit_amount": amount,
    }


def _line(*, start, end, amount, description, quantity=1, discount=0) -> dict:
    return {
        "id": _next("il"),
        "object": "line_item",
        "amount": amount,
        "currency": "eur",
        "description": description,
        "discount_amounts": [{"amount": discount, "discount": "di_welcome"}] if discount else [],
        "discountable": True,
        "discounts": ["di_welcome"] if discount else [],
        "livemode": False,
        "metadata": {},
        "period": {"start": ts(start), "end": ts(end)},
        "quantity": quantity,
        "taxes": [],
    }


def subscription_line(
    subscription_id: str,
    *,
    start,
    end,
    legacy=False,
    price="price_pro_month",
    interval="month",
    amount=900,
    quantity=1,
    item_id=None,
    proration=False,
    discount=0,
) -> dict:
    """A line billed for a subscription item: the period's charge, or (proration=True) a
    credit or charge for part of a period after a change."""
    item_id = item_id or _next("si")
    line = _line(
        start=start,
        end=end,
        amount=amount,
        quantity=quantity,
        discount=discount,
        description=(
            f"Remaining time on {quantity} × Pro after {start:%d %b %Y}"
            if proration
            else f"{quantity} × Pro (at €{amount / 100:.2f} / {interval})"
        ),
    )
    proration_details = {"credited_items": None}
    if legacy:
        line.update(
            type="invoiceitem" if proration else "subscription",
            invoice_item=_next("ii") if proration else None,
            subscription=subscription_id,
            subscription_item=item_id,
            plan={"id": price, "object": "plan", "interval": interval, "amount": amount},
            price=_price(price, interval, amount),
            proration=proration,
            proration_details=proration_details,
        )
    else:
        line.update(
            parent={
                "type": "subscription_item_details",
                "invoice_item_details": None,
                "subscription_item_details": {
                    "invoice_item": _next("ii") if proration else None,
                    "proration": proration,
                    "proration_details": proration_details,
                    "subscription": subscription_id,
                    "subscription_item": item_id,
                },
            },
            pricing={
                "type": "price_details",
                "price_details": {"price": price, "product": f"prod_{price}"},
                "unit_amount_decimal": str(amount),
            },
        )
    return line


def one_off_line(
    subscription_id: str | None,
    *,
    at,
    legacy=False,
    amount=2500,
    description="Portfolio review",
    proration=False,
    start=None,
) -> dict:
    """An invoice item added by hand or by the API (a one-off charge, or in the current shape
    a proration made as an invoice item): its period is the instant it was created unless
    given."""
    start = start or at
    line = _line(start=start, end=at, amount=amount, description=description)
    invoice_item = _next("ii")
    if legacy:
        line.update(
            type="invoiceitem",
            invoice_item=invoice_item,
            subscription=subscription_id,
            subscription_item=None,
            plan=None,
            price={
                "id": _next("price"),
                "object": "price",
                "recurring": None,
                "type": "one_time",
                "unit_amount": amount,
            },
            proration=proration,
            proration_details={"credited_items": None},
        )
    else:
        line.update(
            parent={
                "type": "invoice_item_details",
                "invoice_item_details": {
                    "invoice_item": invoice_item,
                    "proration": proration,
                    "proration_details": {"credited_items": None},
                    "subscription": subscription_id,
                },
                "subscription_item_details": None,
            },
            pricing={
                "type": "price_details",
                "price_details": {"price": _next("price"), "product": "prod_review"},
                "unit_amount_decimal": str(amount),
            },
        )
    return line


def invoice(
    subscription_id: str,
    lines: list[dict],
    *,
    legacy=False,
    billing_reason="subscription_cycle",
    created,
    customer="cus_1",
    has_more=False,
    discounted=False,
) -> dict:
    """A paid invoice with `lines` (in the order given: Stripe's order is not a promise)."""
    total = sum(line["amount"] for line in lines)
    discount = sum(entry["amount"] for line in lines for entry in line["discount_amounts"])
    invoice_id = _next("in")
    obj = {
        "id": invoice_id,
        "object": "invoice",
        "amount_due": total - discount,
        "amount_paid": total - discount,
        "amount_remaining": 0,
        "billing_reason": billing_reason,
        "collection_method": "charge_automatically",
        "created": ts(created),
        "currency": "eur",
        "customer": customer,
        "discounts": ["di_welcome"] if discounted or discount else [],
        "livemode": False,
        "metadata": {},
        # On a cycle invoice the invoice's own period is the one that just ended: never the
        # period being paid for.
        "period_start": ts(created - dt.timedelta(days=30)),
        "period_end": ts(created),
        "status": "paid",
        "subtotal": total,
        "total": total - discount,
        "total_discount_amounts": (
            [{"amount": discount, "discount": "di_welcome"}] if discount else []
        ),
        "lines": {
            "object": "list",
            "data": lines,
            "has_more": has_more,
            "total_count": len(lines) + (10 if has_more else 0),
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
    }
    if legacy:
        obj["subscription"] = subscription_id
    else:
        obj["parent"] = {
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {"subscription": subscription_id, "metadata": {}},
        }
    return obj


def stripe_subscription(
    subscription_id: str,
    *,
    start,
    end,
    legacy=False,
    customer="cus_1",
    metadata=None,
    item_periods=None,
    price="price_pro_month",
    interval="month",
) -> dict:
    """A subscription as GET /v1/subscriptions/<id> answers it. Current shape: the period is
    on each item (`items.data[].current_period_*`); legacy: on the subscription itself."""
    item_periods = item_periods or [(start, end)]
    items = []
    for item_start, item_end in item_periods:
        item = {
            "id": _next("si"),
            "object": "subscription_item",
            "price": _price(price, interval, 900),
            "quantity": 1,
        }
        if not legacy:
            item.update(current_period_start=ts(item_start), current_period_end=ts(item_end))
        items.append(item)
    obj = {
        "id": subscription_id,
        "object": "subscription",
        "customer": customer,
        "status": "active",
        "billing_cycle_anchor": ts(start),
        "metadata": metadata or {},
        "items": {"object": "list", "data": items, "has_more": False},
    }
    if legacy:
        obj.update(current_period_start=ts(start), current_period_end=ts(end))
    return obj
