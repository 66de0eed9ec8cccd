"""Which period a real invoice pays for: a table of invoices shaped like Stripe's, in both API
shapes, with the period each must give or the reason it cannot be known from the invoice."""

import datetime as dt
import re

import pytest

from billing.exceptions import BillingError
from billing.stripe_periods import (
    Period,
    PeriodUnclear,
    invoice_subscription_period,
    subscription_current_period,
)
from tests.billing.conftest import utc
from tests.billing.invoices import (
    invoice,
    one_off_line,
    stripe_subscription,
    subscription_line,
)

SUB = "sub_1"
START, END = utc(2026, 11, 15, 9), utc(2026, 12, 15, 9)
PERIOD = Period(START, END)
CREATED = START + dt.timedelta(hours=1)  # Stripe drafts the invoice an hour in
UPGRADE = utc(2026, 11, 2, 14)  # a change in the middle of the previous period
PREVIOUS = utc(2026, 10, 15, 9)
ONE_OFF = utc(2026, 11, 20, 9)  # an item dated after the period starts (the case)


def one_off_first(legacy):
    return [
        one_off_line(SUB, at=ONE_OFF, legacy=legacy),
        subscription_line(SUB, start=START, end=END, legacy=legacy),
    ]


def upgrade_prorations(legacy):
    """Unused time on the old price credited, remaining time on the new one charged, then the
    next period at the new price."""
    return [
        subscription_line(
            SUB, start=UPGRADE, end=START, legacy=legacy, proration=True, amount=-400
        ),
        subscription_line(
            SUB,
            start=UPGRADE,
            end=START,
            legacy=legacy,
            proration=True,
            amount=1100,
            price="price_studio_month",
        ),
        subscription_line(SUB, start=START, end=END, legacy=legacy, price="price_studio_month"),
    ]


def prorations_as_invoice_items(legacy):
    """Current API: prorations made as invoice items (proration_behavior create_prorations)
    come as invoice_item_details lines flagged proration."""
    return [
        one_off_line(SUB, at=START, start=UPGRADE, legacy=legacy, proration=True, amount=-400),
        one_off_line(SUB, at=START, start=UPGRADE, legacy=legacy, proration=True, amount=700),
        subscription_line(SUB, start=START, end=END, legacy=legacy),
    ]


def several_items(legacy):
    """A base price and a per-seat add-on, billed together: two subscription items, one period."""
    return [
        subscription_line(SUB, start=START, end=END, legacy=legacy),
        subscription_line(
            SUB,
            start=START,
            end=END,
            legacy=legacy,
            price="price_seat_month",
            amount=300,
            quantity=3,
        ),
        one_off_line(SUB, at=ONE_OFF, legacy=legacy),
    ]


def discounted(legacy):
    return [
        one_off_line(SUB, at=ONE_OFF, legacy=legacy),
        subscription_line(SUB, start=START, end=END, legacy=legacy, discount=900),
    ]


def only_prorations(legacy):
    return [
        subscription_line(
            SUB, start=UPGRADE, end=START, legacy=legacy, proration=True, amount=-400
        ),
        subscription_line(
            SUB, start=UPGRADE, end=START, legacy=legacy, proration=True, amount=1100
        ),
    ]


def only_one_offs(legacy):
    return [
        one_off_line(SUB, at=ONE_OFF, legacy=legacy),
        one_off_line(SUB, at=CREATED, legacy=legacy, description="Print shipping"),
    ]


def mixed_intervals(legacy):
    """Items on different cycles (a monthly price and a yearly one, allowed since 2025)."""
    return [
        subscription_line(SUB, start=START, end=END, legacy=legacy),
        subscription_line(
            SUB,
            start=PREVIOUS,
            end=utc(2027, 10, 15, 9),
            legacy=legacy,
            price="price_archive_year",
            interval="year",
        ),
    ]


CASES = [
    # (name, lines, invoice options, expected Period or the reason it is unclear)
    (
        "one subscription line",
        lambda legacy: [subscription_line(SUB, start=START, end=END, legacy=legacy)],
        {},
        PERIOD,
    ),
    ("one-off item first", one_off_first, {}, PERIOD),
    ("upgrade prorations then the new period", upgrade_prorations, {}, PERIOD),
    ("prorations as invoice items", prorations_as_invoice_items, {}, PERIOD),
    ("several subscription items and a one-off", several_items, {}, PERIOD),
    ("100% discount on the subscription line", discounted, {"discounted": True}, PERIOD),
    ("only prorations", only_prorations, {}, "only proration lines (2)"),
    ("only one-off items", only_one_offs, {}, "no subscription line among 2 line(s)"),
    ("items on different cycles", mixed_intervals, {}, "2 different periods"),
    ("lines paginated", one_off_first, {"has_more": True}, "only the first page"),
]


@pytest.mark.parametrize("legacy", [False, True], ids=["current-shape", "legacy-shape"])
@pytest.mark.parametrize(
    ("lines", "options", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_period_paid_for_comes_from_the_subscription_lines(lines, options, expected, legacy):
    paid = invoice(SUB, lines(legacy), legacy=legacy, created=CREATED, **options)
    if isinstance(expected, Period):
        assert invoice_subscription_period(paid, subscription_id=SUB) == expected
    else:
        with pytest.raises(PeriodUnclear, match=re.escape(expected)):
            invoice_subscription_period(paid, subscription_id=SUB)


def test_lines_of_another_subscription_do_not_count():
    lines = [
        subscription_line("sub_other", start=PREVIOUS, end=START),
        subscription_line(SUB, start=START, end=END),
    ]
    paid = invoice(SUB, lines, created=CREATED)
    assert invoice_subscription_period(paid, subscription_id=SUB) == PERIOD


def test_a_line_without_a_period_is_bad_input():
    paid = invoice(SUB, one_off_first(False), created=CREATED)
    paid["lines"]["data"][0]["period"] = {"start": "soon"}
    with pytest.raises(BillingError, match="a line without a period"):
        invoice_subscription_period(paid, subscription_id=SUB)


@pytest.mark.parametrize("legacy", [False, True], ids=["current-shape", "legacy-shape"])
def test_a_fetched_subscription_gives_its_current_period(legacy):
    fetched = stripe_subscription(SUB, start=START, end=END, legacy=legacy)
    assert subscription_current_period(fetched) == PERIOD


def test_a_fetched_subscription_whose_items_disagree_is_unclear():
    fetched = stripe_subscription(
        SUB, start=START, end=END, item_periods=[(START, END), (PREVIOUS, utc(2027, 10, 15, 9))]
    )
    with pytest.raises(PeriodUnclear, match="2 different periods"):
        subscription_current_period(fetched)


def test_a_fetched_subscription_without_a_period_is_unclear():
    fetched = stripe_subscription(SUB, start=START, end=END, legacy=True)
    del fetched["current_period_start"]
    with pytest.raises(PeriodUnclear, match="no current period"):
        subscription_current_period(fetched)
