import time_machine
from django.db.models import Sum

from billing.jobs import reset_monthly_credits
from billing.models import CreditLedgerEntry, Subscription
from billing.services.credits import credits_consume, credits_reset, credits_reset_due
from tests.billing.conftest import utc

Source = CreditLedgerEntry.Source
ANCHOR = utc(2026, 1, 31, 10)


def resets(subscription):
    return list(subscription.ledger_entries.filter(kind=CreditLedgerEntry.Kind.RESET))


def test_a_new_subscription_is_first_due_one_month_after_its_anchor(make_subscription):
    with time_machine.travel(utc(2026, 2, 10), tick=False):
        subscription = make_subscription(billing_anchor=ANCHOR)
    assert subscription.next_credit_reset_at == utc(2026, 2, 28, 10)


def test_it_resets_a_due_yearly_subscription_to_the_plan_allowance(make_subscription):
    with time_machine.travel(utc(2026, 2, 10), tick=False):
        subscription = make_subscription(billing_anchor=ANCHOR, credits_balance=7)
    with time_machine.travel(utc(2026, 2, 28, 10, 5), tick=False):
        assert reset_monthly_credits() == {"reset": 1, "caught_up": 0, "skipped": 0}
    subscription.refresh_from_db()
    assert subscription.credits_balance == 50
    assert subscription.credits_period_start == utc(2026, 2, 28, 10)
    assert subscription.last_credit_reset_at == utc(2026, 2, 28, 10, 5)
    assert subscription.next_credit_reset_at == utc(2026, 3, 31, 10)
    [entry] = resets(subscription)
    assert (entry.amount, entry.balance_after, entry.source) == (43, 50, Source.JOB)
    assert entry.period_start == utc(2026, 2, 28, 10)


def test_it_leaves_subscriptions_that_are_not_due_yet(make_subscription):
    with time_machine.travel(utc(2026, 2, 10), tick=False):
        subscription = make_subscription(billing_anchor=ANCHOR)
    with time_machine.travel(utc(2026, 2, 28, 9, 59), tick=False):
        assert reset_monthly_credits()["reset"] == 0
    subscription.refresh_from_db()
    assert subscription.credits_balance == 7
    assert not resets(subscription)


def test_it_skips_canceled_past_due_and_unpaid_subscriptions(make_subscription):
    with time_machine.travel(utc(2026, 2, 10), tick=False):
        frozen = [
            make_subscription(billing_anchor=ANCHOR, status=status)
            for status in ("canceled", "past_due", "unpaid")
        ]
    with time_machine.travel(utc(2026, 3, 1), tick=False):
        assert reset_monthly_credits()["reset"] == 0
    assert not CreditLedgerEntry.objects.exists()
    assert {
        s.credits_balance for s in Subscription.objects.filter(pk__in=[s.pk for s in frozen])
    } == {7}


def test_it_resets_trialing_yearly_subscriptions(make_subscription):
    with time_machine.travel(utc(2026, 2, 10), tick=False):
        make_subscription(billing_anchor=ANCHOR, status="trialing")
    with time_machine.travel(utc(2026, 3, 1), tick=False):
        assert reset_monthly_credits()["reset"] == 1


def test_it_leaves_monthly_plans_to_the_stripe_webhook(make_subscription):
    with time_machine.travel(utc(2026, 2, 10), tick=False):
        make_subscription(billing_anchor=ANCHOR, interval="monthly")
    with time_machine.travel(utc(2026, 3, 1), tick=False):
        assert reset_monthly_credits()["reset"] == 0


def test_running_the_job_twice_in_a_period_grants_once(make_subscription):
    with time_machine.travel(utc(2026, 2, 10), tick=False):
        subscription = make_subscription(billing_anchor=ANCHOR)
    with time_machine.travel(utc(2026, 3, 1), tick=False):
        reset_monthly_credits()
        credits_consume(subscription=subscription, amount=5)
        assert reset_monthly_credits()["reset"] == 0
    subscription.refresh_from_db()
    assert subscription.credits_balance == 45
    assert len(resets(subscription)) == 1


def test_after_a_three_month_gap_it_resets_once_to_the_current_period(make_subscription):
    with time_machine.travel(utc(2026, 2, 10), tick=False):
        subscription = make_subscription(billing_anchor=ANCHOR)
    with time_machine.travel(utc(2026, 2, 28, 11), tick=False):
        reset_monthly_credits()
    # No scheduler ran for the Mar 31, Apr 30 and May 31 resets.
    with time_machine.travel(utc(2026, 6, 2), tick=False):
        assert reset_monthly_credits() == {"reset": 1, "caught_up": 1, "skipped": 0}
    subscription.refresh_from_db()
    assert subscription.credits_balance == 50  # reset, not piled up
    assert subscription.credits_period_start == utc(2026, 5, 31, 10)
    assert subscription.next_credit_reset_at == utc(2026, 6, 30, 10)
    latest = resets(subscription)[0]
    assert latest.period_start == utc(2026, 5, 31, 10)
    assert latest.note == "caught up after 2 missed period(s)"


def test_a_subscription_never_reset_catches_up_from_its_first_due_period(make_subscription):
    with time_machine.travel(utc(2026, 2, 10), tick=False):
        subscription = make_subscription(billing_anchor=ANCHOR)
    with time_machine.travel(utc(2026, 5, 1), tick=False):
        report = credits_reset_due(source=Source.JOB)
    [reset] = report.reset
    # Feb 28 and Mar 31 were missed; Apr 30 is the period it is reset for.
    assert (reset.period_start, reset.missed_periods) == (utc(2026, 4, 30, 10), 2)
    subscription.refresh_from_db()
    assert subscription.next_credit_reset_at == utc(2026, 5, 31, 10)


def test_the_ledger_adds_up_to_the_balance(make_subscription):
    with time_machine.travel(utc(2026, 2, 10), tick=False):
        subscription = make_subscription(billing_anchor=ANCHOR, credits_balance=0)
    for day, spend in [(utc(2026, 3, 1), 12), (utc(2026, 4, 2), 30), (utc(2026, 5, 5), 1)]:
        with time_machine.travel(day, tick=False):
            reset_monthly_credits()
            credits_consume(subscription=subscription, amount=spend)
    subscription.refresh_from_db()
    total = subscription.ledger_entries.aggregate(total=Sum("amount"))["total"]
    assert total == subscription.credits_balance == 49


def test_a_dry_run_reports_without_changing_anything(make_subscription):
    with time_machine.travel(utc(2026, 2, 10), tick=False):
        subscription = make_subscription(billing_anchor=ANCHOR)
    with time_machine.travel(utc(2026, 3, 1), tick=False):
        report = credits_reset_due(source=Source.COMMAND, dry_run=True)
    assert [r.subscription_id for r in report.reset] == [subscription.pk]
    subscription.refresh_from_db()
    assert subscription.credits_balance == 7
    assert not CreditLedgerEntry.objects.exists()


def test_it_works_in_batches_with_a_fixed_number_of_queries_each(
    make_subscription, django_assert_num_queries
):
    with time_machine.travel(utc(2026, 2, 10), tick=False):
        for _ in range(7):
            make_subscription(billing_anchor=ANCHOR)
    with time_machine.travel(utc(2026, 3, 1), tick=False):
        # 3 batches of at most 3 rows (SELECT, INSERT, UPDATE each) and the final empty SELECT,
        # plus a savepoint pair per batch transaction in the test's transaction.
        with django_assert_num_queries(3 * 3 + 1 + 4 * 2) as context:
            report = credits_reset_due(source=Source.JOB, batch_size=3)
    assert len(report.reset) == 7
    assert sum(q["sql"].startswith("UPDATE") for q in context.captured_queries) == 3


def test_a_row_reset_by_another_path_gets_its_due_date_moved_without_a_second_grant(
    make_subscription,
):
    with time_machine.travel(utc(2026, 2, 10), tick=False):
        subscription = make_subscription(billing_anchor=ANCHOR)
    with time_machine.travel(utc(2026, 3, 1), tick=False):
        credits_reset(subscription_ids=[subscription.pk], source=Source.ADMIN)
        Subscription.objects.filter(pk=subscription.pk).update(
            next_credit_reset_at=utc(2026, 2, 28, 10)
        )
        report = credits_reset_due(source=Source.JOB)
    assert report.counts() == {"reset": 0, "caught_up": 0, "skipped": 1}
    subscription.refresh_from_db()
    assert subscription.next_credit_reset_at == utc(2026, 3, 31, 10)
    assert len(resets(subscription)) == 1


def test_resets_follow_the_anchor_on_the_31st_through_the_year(make_subscription):
    with time_machine.travel(utc(2027, 12, 31, 10), tick=False):
        subscription = make_subscription(billing_anchor=utc(2027, 12, 31, 0))
    days = []
    for month in range(1, 6):
        # The job runs daily; run it on every day of the month.
        for day in range(1, 32):
            try:
                moment = utc(2028, month, day, 2)
            except ValueError:
                continue
            with time_machine.travel(moment, tick=False):
                if reset_monthly_credits()["reset"]:
                    days.append(moment.date().isoformat())
    assert days == ["2028-01-31", "2028-02-29", "2028-03-31", "2028-04-30", "2028-05-31"]
    assert len(resets(subscription)) == 5


def test_it_keeps_the_anchor_time_to_the_microsecond(make_subscription):
    anchor = utc(2026, 1, 31, 10, 7, 30, 123456)
    with time_machine.travel(utc(2026, 2, 10), tick=False):
        subscription = make_subscription(billing_anchor=anchor)
    with time_machine.travel(utc(2026, 3, 1), tick=False):
        reset_monthly_credits()
    subscription.refresh_from_db()
    assert subscription.credits_period_start == utc(2026, 2, 28, 10, 7, 30, 123456)
    assert subscription.next_credit_reset_at == utc(2026, 3, 31, 10, 7, 30, 123456)
    assert resets(subscription)[0].period_start == subscription.credits_period_start


def test_a_subscription_whose_anchor_is_in_the_future_waits_for_it(make_subscription):
    subscription = make_subscription(billing_anchor=utc(2026, 4, 10))
    Subscription.objects.filter(pk=subscription.pk).update(next_credit_reset_at=utc(2026, 2, 1))
    with time_machine.travel(utc(2026, 3, 1), tick=False):
        report = credits_reset_due(source=Source.JOB)
        assert report.skipped == [(subscription.pk, "first period starts 2026-04-10 00:00")]
        assert credits_reset_due(source=Source.JOB).counts()["skipped"] == 0
    subscription.refresh_from_db()
    assert subscription.next_credit_reset_at == utc(2026, 4, 10)
    assert not resets(subscription)
