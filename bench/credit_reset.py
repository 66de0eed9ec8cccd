"""Benchmark: the daily credit reset, set-based, against the naive loop it replaces.

    .venv/bin/python bench/credit_reset.py [--subscriptions 100000] [--due-fraction 0.1]
                                          [--batch-size 1000] [--naive-sample 0]

Builds N yearly subscriptions (a fraction of them due) in a throwaway database (test_<name> of
BENCH_DATABASE_URL, PostgreSQL by default), then times, on the same data in the same run:

- set-based (median of --repeat runs): `billing.services.credits.credits_reset_due`, the
  job's service (batches of one locking SELECT, one INSERT of ledger rows, one UPDATE);
- naive (the baseline): the seeds' loop, loading every active yearly subscription, checking
  whether its reset is due, and saving each due one plus its ledger row, one at a time.

With --naive-sample K the naive loop runs on only K due rows' worth of work and its time is
extrapolated per row to the full size (said so in the output). Prints the ratio and writes
bench/results/credit_reset.json. Target: set-based >= 20x faster and < 5 s on PostgreSQL.
"""

import argparse
import datetime as dt
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.django_setup import bench_django_setup  # noqa: E402

bench_django_setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402

from billing import periods  # noqa: E402
from billing.models import CreditLedgerEntry, Plan, Subscription  # noqa: E402
from billing.services.credits import credits_reset_due  # noqa: E402
from proletto.models import User  # noqa: E402

NOW = dt.datetime(2026, 3, 16, 2, 0, tzinfo=dt.UTC)
CHUNK = 5000


def build(total: int, due_fraction: float) -> int:
    plan = Plan.objects.create(code="pro", name="Pro", monthly_credits=50, is_pro=True)
    due_every = round(1 / due_fraction)
    due = 0
    for start in range(0, total, CHUNK):
        numbers = range(start, min(start + CHUNK, total))
        users = User.objects.bulk_create(
            [User(username=f"bench{i}", email=f"b{i}@proletto.test", password="!") for i in numbers]
        )
        subscriptions = []
        for i, user in zip(numbers, users, strict=True):
            is_due = i % due_every == 0
            due += is_due
            # Due rows: their March period started in the last two weeks and was not granted
            # yet. The others were reset for their current period and wait for the next one.
            day = 2 + (i // due_every) % 14 if is_due else 1 + i % 28
            anchor = dt.datetime(2025, 6, day, 9, tzinfo=dt.UTC)
            index = periods.period_index(anchor, NOW)
            current = periods.add_months(anchor, index)
            following = periods.add_months(anchor, index + 1)
            subscriptions.append(
                Subscription(
                    user=user,
                    plan=plan,
                    interval=Subscription.Interval.YEARLY,
                    status=Subscription.Status.ACTIVE,
                    credits_balance=7,
                    billing_anchor=anchor,
                    credits_period_start=(
                        periods.add_months(anchor, index - 1) if is_due else current
                    ),
                    next_credit_reset_at=current if is_due else following,
                )
            )
        Subscription.objects.bulk_create(subscriptions)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return due


def snapshot():
    return list(
        Subscription.objects.filter(next_credit_reset_at__lte=NOW).values_list(
            "pk", "next_credit_reset_at", "credits_period_start"
        )
    )


def restore(due_rows):
    """Put the due rows back as they were (set-based, untimed) so both contenders see the same
    data."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f'TRUNCATE "{CreditLedgerEntry._meta.db_table}"')
    else:
        CreditLedgerEntry.objects.all().delete()
    by_period = {}
    for pk, next_at, granted in due_rows:
        by_period.setdefault((next_at, granted), []).append(pk)
    for (next_at, granted), pks in by_period.items():
        Subscription.objects.filter(pk__in=pks).update(
            next_credit_reset_at=next_at,
            credits_balance=7,
            credits_period_start=granted,
            last_credit_reset_at=None,
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def naive_reset(limit: int | None) -> int:
    """The seeds' loop: every active yearly subscription loaded, the due ones saved one by one."""
    done = 0
    for subscription in Subscription.objects.filter(
        status=Subscription.Status.ACTIVE, interval=Subscription.Interval.YEARLY
    ).select_related("plan"):
        if subscription.next_credit_reset_at > NOW:
            continue
        start = subscription.credit_period_start(NOW)
        allowance = subscription.plan.monthly_credits
        amount = allowance - subscription.credits_balance
        subscription.credits_balance = allowance
        subscription.credits_period_start = start
        subscription.last_credit_reset_at = NOW
        subscription.next_credit_reset_at = subscription.next_reset_at(NOW)
        subscription.save()
        CreditLedgerEntry.objects.create(
            subscription=subscription,
            kind=CreditLedgerEntry.Kind.RESET,
            amount=amount,
            balance_after=allowance,
            period_start=start,
            source=CreditLedgerEntry.Source.JOB,
            created_at=NOW,
        )
        done += 1
        if limit and done >= limit:
            break
    return done


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--due-fraction", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument(
        "--repeat", type=int, default=3, help="set-based runs; the median is reported"
    )
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=0,
        help="run the naive loop for this many due rows only and extrapolate (0: all)",
    )
    args = parser.parse_args()

    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        started = time.perf_counter()
        due = build(args.subscriptions, args.due_fraction)
        print(
            f"built {args.subscriptions} yearly subscriptions, {due} due, on "
            f"{connection.vendor} in {time.perf_counter() - started:.1f} s"
        )
        due_rows = snapshot()

        timings = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            report = credits_reset_due(now=NOW, batch_size=args.batch_size)
            timings.append(time.perf_counter() - started)
            assert len(report.reset) == due, (len(report.reset), due)
            assert not any(item.missed_periods for item in report.reset)
            assert CreditLedgerEntry.objects.count() == due
            assert not Subscription.objects.filter(next_credit_reset_at__lte=NOW).exists()
            restore(due_rows)
        set_based = statistics.median(timings)

        started = time.perf_counter()
        naive_done = naive_reset(args.naive_sample or None)
        naive_measured = time.perf_counter() - started
        assert CreditLedgerEntry.objects.count() == naive_done
        extrapolated = naive_done < due
        naive = naive_measured * due / naive_done if extrapolated else naive_measured

        ratio = naive / set_based
        print(
            f"set-based reset: {set_based:.2f} s for {due} due rows (batch {args.batch_size}, "
            f"median of {args.repeat}: {', '.join(f'{t:.2f}' for t in timings)})"
        )
        if extrapolated:
            print(
                f"naive loop:      {naive:.2f} s EXTRAPOLATED from {naive_done} rows in "
                f"{naive_measured:.2f} s (per-row cost x {due})"
            )
        else:
            print(f"naive loop:      {naive:.2f} s for {naive_done} due rows (measured)")
        print(f"ratio:           {ratio:.1f}x faster than the naive loop (target >= 20x)")
        print(f"target < 5 s:    {'met' if set_based < 5 else 'MISSED'}")

        results = {
            "benchmark": "credit_reset",
            "database": connection.vendor,
            "subscriptions": args.subscriptions,
            "due": due,
            "batch_size": args.batch_size,
            "set_based_seconds": round(set_based, 3),
            "set_based_runs": [round(t, 3) for t in timings],
            "naive_seconds": round(naive, 3),
            "naive_extrapolated_from_rows": naive_done if extrapolated else None,
            "ratio": round(ratio, 1),
            "target_ratio": 20,
            "target_seconds": 5,
            "python": platform.python_version(),
            "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        out = ROOT / "bench" / "results" / "credit_reset.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {out.relative_to(ROOT)}")
    finally:
        connection.close()
        teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    main()
