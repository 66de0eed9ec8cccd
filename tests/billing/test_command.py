from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from billing.models import CreditLedgerEntry
from tests.billing.conftest import utc

ANCHOR = utc(2026, 1, 31, 10)


def run(*args):
    out = StringIO()
    call_command("reset_monthly_credits", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def due(make_subscription):
    with time_machine.travel(utc(2026, 2, 10), tick=False):
        return make_subscription(billing_anchor=ANCHOR)


@pytest.fixture(autouse=True)
def in_march():
    with time_machine.travel(utc(2026, 3, 1), tick=False):
        yield


def test_it_prints_what_it_reset(due):
    output = run()
    assert f"reset #{due.pk} {due.user.username} (Pro, yearly): 7 -> 50 credits" in output
    assert "1 reset, 0 caught up after missed periods, 0 skipped." in output
    due.refresh_from_db()
    assert due.credits_balance == 50
    assert due.ledger_entries.get().source == CreditLedgerEntry.Source.COMMAND


def test_a_dry_run_prints_what_it_would_reset_and_changes_nothing(due):
    output = run("--dry-run")
    assert f"would reset #{due.pk}" in output
    assert output.strip().endswith(
        "Dry run: 1 would reset, 0 caught up after missed periods, 0 skipped."
    )
    due.refresh_from_db()
    assert due.credits_balance == 7
    assert not CreditLedgerEntry.objects.exists()


def test_one_subscription_is_reset_once_per_period(due):
    run("--subscription", str(due.pk))
    output = run("--subscription", str(due.pk))
    assert f"skipped #{due.pk}: already reset for the period from 2026-02-28 10:00" in output
    assert due.ledger_entries.count() == 1


def test_it_finds_a_subscription_by_its_stripe_id(make_subscription):
    subscription = make_subscription(stripe_subscription_id="sub_42", interval="monthly")
    assert f"reset #{subscription.pk}" in run("--subscription", "sub_42")


def test_it_skips_a_canceled_subscription_given_by_id(make_subscription):
    subscription = make_subscription(status="canceled")
    assert f"skipped #{subscription.pk}: status is canceled" in run(
        "--subscription", str(subscription.pk)
    )
    assert not CreditLedgerEntry.objects.exists()


@pytest.mark.parametrize("value", ["999999", "sub_missing", ""])
def test_an_unknown_subscription_is_a_command_error(db, value):
    with pytest.raises(CommandError, match=f"no subscription with id '{value}'"):
        run("--subscription", value)
    assert not CreditLedgerEntry.objects.exists()
