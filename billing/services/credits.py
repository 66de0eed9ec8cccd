"""Writes to credits and subscriptions. Every path that changes credits (the daily job, the
Stripe webhook, the admin action, the command) comes through here, so one rule holds for all:
a subscription gets at most one reset per period (row lock + conditional check, and the
`credit_reset_once_per_period` unique constraint as the last line)."""

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing import periods, selectors
from billing.exceptions import BillingError
from billing.models import CreditLedgerEntry, Subscription
from billing.services.reset_writes import resets_write

Source = CreditLedgerEntry.Source

# What a reset needs to know about a subscription, read in one query per batch.
_RESET_FIELDS = (
    "id",
    "billing_anchor",
    "credits_balance",
    "credits_period_start",
    "last_credit_reset_at",
    "next_credit_reset_at",
    "status",
    "interval",
    "plan__name",
    "plan__monthly_credits",
    "user__username",
)


@dataclass(frozen=True)
class CreditReset:
    subscription_id: int
    username: str
    plan: str
    interval: str
    balance_before: int
    balance_after: int
    period_start: dt.datetime
    next_reset_at: dt.datetime
    missed_periods: int = 0

    def describe(self) -> str:
        line = (
            f"#{self.subscription_id} {self.username} ({self.plan}, {self.interval}): "
            f"{self.balance_before} -> {self.balance_after} credits for the period from "
            f"{self.period_start:%Y-%m-%d %H:%M} UTC, "
            f"next reset {self.next_reset_at:%Y-%m-%d %H:%M} UTC"
        )
        if self.missed_periods:
            line += f" (caught up: {self.missed_periods} missed period(s) not granted)"
        return line


@dataclass
class CreditResetReport:
    reset: list[CreditReset] = field(default_factory=list)
    # (subscription id, why it was not reset)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def counts(self) -> dict:
        return {
            "reset": len(self.reset),
            "caught_up": sum(1 for item in self.reset if item.missed_periods),
            "skipped": len(self.skipped),
        }


def credits_reset_due(
    *, source: str = Source.JOB, now=None, dry_run: bool = False, batch_size: int = 2000
) -> CreditResetReport:
    """Reset the credits of every yearly subscription whose next monthly reset is due.

    One pass over the due rows in primary-key order, `batch_size` at a time: per batch one
    locking SELECT, one INSERT of ledger rows and one UPDATE. Rows another process holds are
    skipped (SKIP LOCKED on PostgreSQL); that process is resetting them.
    """
    now = now or timezone.now()
    report = CreditResetReport()
    after_id = 0
    while True:
        with transaction.atomic():
            due = selectors.subscriptions_due_for_reset(now=now).filter(pk__gt=after_id)
            if not dry_run:
                due = due.select_for_update(skip_locked=True, of=("self",))
            rows = list(due.order_by("pk").values(*_RESET_FIELDS)[:batch_size])
            if not rows:
                break
            after_id = rows[-1]["id"]
            _reset_rows(rows, now=now, source=source, dry_run=dry_run, report=report)
    return report


def credits_reset(
    *, subscription_ids, source: str, now=None, dry_run: bool = False
) -> CreditResetReport:
    """Reset the given subscriptions to their current period now (admin action, command),
    unless they were already reset for it: clicking twice grants once."""
    now = now or timezone.now()
    report = CreditResetReport()
    with transaction.atomic():
        rows = Subscription.objects.filter(pk__in=list(subscription_ids)).order_by("pk")
        if not dry_run:
            # Waits for a concurrent reset of the same row, then sees its result.
            rows = rows.select_for_update(of=("self",))
        entitled = []
        for row in rows.values(*_RESET_FIELDS):
            if row["status"] in Subscription.ENTITLED_STATUSES:
                entitled.append(row)
            else:
                report.skipped.append((row["id"], f"status is {row['status']}"))
        _reset_rows(entitled, now=now, source=source, dry_run=dry_run, report=report)
    return report


def credits_reset_selected(
    *, subscription_ids, source: str, now=None, dry_run: bool = False
) -> CreditResetReport:
    """The admin's "Reset credits now": credits_reset for the selected subscriptions this path
    applies to, yearly plans that grant credits, each other one skipped with the reason (a
    monthly plan is reset by Stripe's invoice.paid; a plan of 0 credits has nothing to grant)."""
    report = CreditResetReport()
    applicable = []
    rows = Subscription.objects.filter(pk__in=list(subscription_ids)).order_by("pk")
    for row in rows.values("id", "interval", "plan__name", "plan__monthly_credits"):
        if row["interval"] != Subscription.Interval.YEARLY:
            report.skipped.append(
                (row["id"], f"{row['interval']} plan: Stripe's invoice.paid resets its credits")
            )
        elif row["plan__monthly_credits"] <= 0:
            report.skipped.append((row["id"], f"plan {row['plan__name']} grants no credits"))
        else:
            applicable.append(row["id"])
    if applicable:
        done = credits_reset(subscription_ids=applicable, source=source, now=now, dry_run=dry_run)
        report.reset = done.reset
        report.skipped = sorted(report.skipped + done.skipped)
    return report


def credits_reset_for_period(
    *,
    subscription_id: int,
    period_start: dt.datetime,
    next_reset_at: dt.datetime | None,
    source: str,
    now=None,
) -> CreditResetReport:
    """Reset one subscription for a period someone else defined (Stripe's invoice line)."""
    now = now or timezone.now()
    report = CreditResetReport()
    with transaction.atomic():
        rows = list(
            Subscription.objects.filter(pk=subscription_id)
            .select_for_update(of=("self",))
            .values(*_RESET_FIELDS)
        )
        _reset_rows(
            rows,
            now=now,
            source=source,
            dry_run=False,
            report=report,
            period=(period_start, next_reset_at),
        )
    return report


def _reset_rows(rows, *, now, source, dry_run, report, period=None) -> None:
    """Plan the reset of locked `rows` and write it with one INSERT and one UPDATE."""
    entries, updates = [], []
    for row in rows:
        anchor = row["billing_anchor"]
        missed = 0
        if period is None:
            index, start, next_at = periods.period_bounds(anchor, now)
            if start > now:
                report.skipped.append((row["id"], f"first period starts {start:%Y-%m-%d %H:%M}"))
                if not dry_run and row["next_credit_reset_at"] != start:
                    updates.append(_subscription_update(row, now=now, next_at=start))
                continue
            missed = _missed_periods(row, anchor=anchor, index=index, start=start)
        else:
            start, next_at = period
            if row["interval"] == Subscription.Interval.YEARLY or next_at is None:
                # A yearly invoice's period ends in a year; credits still reset monthly.
                next_at = periods.next_period_start(anchor, start)

        granted = row["credits_period_start"]
        if granted is not None and granted >= start:
            report.skipped.append(
                (row["id"], f"already reset for the period from {granted:%Y-%m-%d %H:%M}")
            )
            if not dry_run and row["next_credit_reset_at"] != next_at and period is None:
                # Reset by another path (webhook) without moving the due date: move it, or the
                # job would pick this row up again every day.
                updates.append(_subscription_update(row, now=now, next_at=next_at))
            continue

        allowance = row["plan__monthly_credits"]
        reset = CreditReset(
            subscription_id=row["id"],
            username=row["user__username"],
            plan=row["plan__name"],
            interval=row["interval"],
            balance_before=row["credits_balance"],
            balance_after=allowance,
            period_start=start,
            next_reset_at=next_at,
            missed_periods=missed,
        )
        report.reset.append(reset)
        if dry_run:
            continue
        entries.append((row["id"], allowance - row["credits_balance"], allowance, start, missed))
        updates.append(
            _subscription_update(
                row, now=now, next_at=next_at, balance=allowance, period_start=start, reset=True
            )
        )
    resets_write(entries, updates, now=now, source=source)


def _missed_periods(row, *, anchor, index, start) -> int:
    """Monthly periods between the last one granted and the current one that got no reset."""
    if row["next_credit_reset_at"] == start:
        return 0  # due for exactly this period: the usual case, nothing to count
    if row["credits_period_start"] is not None:
        return max(index - periods.period_index(anchor, row["credits_period_start"]) - 1, 0)
    if row["next_credit_reset_at"] is not None:
        return max(index - periods.period_index(anchor, row["next_credit_reset_at"]), 0)
    return 0


def _subscription_update(row, *, now, next_at, balance=None, period_start=None, reset=False):
    return (
        row["id"],
        row["credits_balance"] if balance is None else balance,
        period_start or row["credits_period_start"],
        now if reset else row["last_credit_reset_at"],
        next_at,
    )


def credits_consume(
    *, subscription: Subscription, amount: int, source: str = Source.APP, note: str = ""
) -> int:
    """Spend `amount` credits; returns the new balance. Never goes below zero, even when two
    requests spend at once (conditional UPDATE)."""
    if amount <= 0:
        raise BillingError(f"credits to consume must be positive, got {amount}")
    with transaction.atomic():
        spent = Subscription.objects.filter(pk=subscription.pk, credits_balance__gte=amount).update(
            credits_balance=F("credits_balance") - amount, updated_at=timezone.now()
        )
        if not spent:
            raise BillingError(f"not enough credits: {amount} needed")
        balance = Subscription.objects.values_list("credits_balance", flat=True).get(
            pk=subscription.pk
        )
        CreditLedgerEntry.objects.create(
            subscription=subscription,
            kind=CreditLedgerEntry.Kind.CONSUMPTION,
            amount=-amount,
            balance_after=balance,
            source=source,
            note=note[:255],
        )
    subscription.credits_balance = balance
    return balance


def credits_grant(*, subscription: Subscription, amount: int, source: str, note: str = "") -> int:
    """Add `amount` extra credits (a goodwill grant); returns the new balance."""
    if amount <= 0:
        raise BillingError(f"credits to grant must be positive, got {amount}")
    with transaction.atomic():
        Subscription.objects.filter(pk=subscription.pk).update(
            credits_balance=F("credits_balance") + amount, updated_at=timezone.now()
        )
        balance = Subscription.objects.values_list("credits_balance", flat=True).get(
            pk=subscription.pk
        )
        CreditLedgerEntry.objects.create(
            subscription=subscription,
            kind=CreditLedgerEntry.Kind.GRANT,
            amount=amount,
            balance_after=balance,
            source=source,
            note=note[:255],
        )
    subscription.credits_balance = balance
    return balance
