import pytest

from billing.exceptions import BillingError
from billing.services.credits import credits_consume, credits_grant


def test_consuming_credits_lowers_the_balance_and_records_it(make_subscription):
    subscription = make_subscription(credits_balance=10)
    assert credits_consume(subscription=subscription, amount=4, note="portfolio review") == 6
    entry = subscription.ledger_entries.get()
    assert (entry.kind, entry.amount, entry.balance_after) == ("consumption", -4, 6)


def test_it_refuses_to_spend_more_credits_than_there_are(make_subscription):
    subscription = make_subscription(credits_balance=3)
    with pytest.raises(BillingError, match="not enough credits: 4 needed"):
        credits_consume(subscription=subscription, amount=4)
    subscription.refresh_from_db()
    assert subscription.credits_balance == 3
    assert not subscription.ledger_entries.exists()


@pytest.mark.parametrize("amount", [0, -5])
def test_it_refuses_amounts_that_are_not_positive(make_subscription, amount):
    subscription = make_subscription()
    with pytest.raises(BillingError, match="must be positive"):
        credits_consume(subscription=subscription, amount=amount)
    with pytest.raises(BillingError, match="must be positive"):
        credits_grant(subscription=subscription, amount=amount, source="admin")
    assert not subscription.ledger_entries.exists()


def test_a_grant_adds_to_the_balance_and_records_it(make_subscription):
    subscription = make_subscription(credits_balance=7)
    assert credits_grant(subscription=subscription, amount=5, source="admin", note="sorry") == 12
    entry = subscription.ledger_entries.get()
    assert (entry.kind, entry.amount, entry.balance_after, entry.note) == ("grant", 5, 12, "sorry")
