"""Benchmark: queueing the weekly digest, against its floor, its code before #23 and a naive loop.

    .venv/bin/python bench/digest.py [--users 10000] [--opportunities 2000] [--repeat 2]
                                     [--naive-sample 300] [--memory-users 100000]
                                     [--history-weeks 4]

Builds N Pro artists and M open opportunities in a throwaway database (test_<name> of
BENCH_DATABASE_URL, PostgreSQL by default), with --history-weeks past weekly digests per
artist (bench/digest_history.py: opened, clicked, "more"/"not for me", so the recommender's
learning runs; 0: no history, the profile alone), then measures in one run:

- batched: `digests.services.digest.digests_send_due`, the job's service, from start until
  every digest is queued in the outbox: users/s and queries per 1,000 users;
- floor (the bound): the same rows written with COPY and the same emails rendered (links
  signed, frames filled), batch by batch with a commit each, with no scoring, no consent
  reads and no ORM: users/s, and the share of it spent committing (deferred foreign-key
  checks). The digest's figure is given as a share of it;
- before #23: the digest's batch path as it was before issue #23 (bench/digest_before_23.py),
  each batch picked, rendered and written in turn;
- batched, floor and before #23 run --repeat times each, interleaved, on tables emptied of
  all but the history (the same history for all three); the best run of each is kept (the
  machine is shared), with its process CPU time;
- naive (the baseline): one user at a time with ORM queries per user, every opportunity
  scored in Python, one digest, its items and one outbox row saved per user. It runs on
  --naive-sample users and its rate is per user (said so in the output);
- memory: peak traced Python memory (tracemalloc) of the batched run at N users and, with
  --memory-users, at that many users, to show it stays flat.

Targets: >= 0.4 of the floor and >= 1.5x the path before #23 (issue #23), >= 20x the naive
loop, <= 30 queries per 1,000 users, peak memory at 100,000 users within 1.5x of that at
10,000. Writes bench/results/digest.json (digest-no-history.json with --history-weeks 0).
"""

import argparse
import datetime as dt
import json
import platform
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.django_setup import bench_django_setup  # noqa: E402

bench_django_setup()

from django.db import connection, reset_queries  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_databases, teardown_databases  # noqa: E402

from bench.digest_before_23 import digests_send_due_before_23  # noqa: E402
from bench.digest_floor import floor_picks, floor_run  # noqa: E402
from bench.digest_history import (  # noqa: E402
    history_bounds,
    learning_stats,
    seed_history,
    taste_stats,
)
from billing.models import Plan, Subscription  # noqa: E402
from digests.models import DigestEmail, DigestItem, Opportunity  # noqa: E402
from digests.services.digest import digests_send_due  # noqa: E402
from outreach.consent import marketing_headers  # noqa: E402
from outreach.models import Category, EmailOutbox  # noqa: E402
from outreach.services.outbox import outbox_enqueue  # noqa: E402
from proletto.models import User  # noqa: E402
from proletto.vocabulary import MEDIUMS  # noqa: E402

NOW = dt.datetime(2026, 11, 23, 23, 0, tzinfo=dt.UTC)  # Monday evening: every zone below is due
ZONES = [
    "Europe/Rome",
    "Europe/London",
    "Africa/Accra",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "America/New_York",
    "America/Mexico_City",
]
TAGS = [
    "residency",
    "ecology",
    "figurative",
    "community",
    "technology",
    "women artists",
    "migration",
    "books",
    "public space",
    "craft",
]
COUNTRIES = ["IT", "GB", "GH", "JP", "IN", "US", "MX", "DE", "FR"]
KINDS = [kind for kind, _ in Opportunity.Kind.choices]
CHUNK = 5000


def build_catalogue(count: int, rng: random.Random) -> None:
    mediums = list(MEDIUMS)
    Opportunity.objects.bulk_create(
        [
            Opportunity(
                title=f"Open call {i}",
                organisation=f"Foundation {i % 97}",
                url=f"https://calls.example/{i}",
                kind=rng.choice(KINDS),
                description="An opportunity for artists working across media. " * 4,
                deadline=NOW + dt.timedelta(days=rng.randint(4, 120)),
                country=rng.choice(COUNTRIES),
                city="City",
                is_remote=rng.random() < 0.15,
                mediums=rng.sample(mediums, rng.randint(0, 3)),
                tags=rng.sample(TAGS, rng.randint(0, 2)),
                first_seen_at=NOW,
                last_seen_at=NOW,
                content_hash=str(i),
            )
            for i in range(count)
        ],
        batch_size=1000,
    )


def build_users(start: int, count: int, plan: Plan, rng: random.Random) -> None:
    mediums = list(MEDIUMS)
    for offset in range(start, start + count, CHUNK):
        numbers = range(offset, min(offset + CHUNK, start + count))
        users = User.objects.bulk_create(
            [
                User(
                    username=f"artist{i}",
                    email=f"artist{i}@bench.test",
                    password="!",
                    mediums=rng.sample(mediums, rng.randint(1, 3)),
                    interests=rng.sample(TAGS, rng.randint(0, 3)),
                    country=rng.choice(COUNTRIES),
                    timezone=rng.choice(ZONES),
                )
                for i in numbers
            ]
        )
        Subscription.objects.bulk_create(
            [Subscription(user=user, plan=plan, billing_anchor=NOW) for user in users]
        )


HISTORY: dict = {}  # highest id per digest table after the history was seeded (none: empty)


def clear_digests() -> None:
    """Back to the state before a measured run: the history only, if any."""
    if HISTORY:
        clear_above_history()
        return
    if connection.vendor == "postgresql":
        # Each measured run starts from empty tables, not from the dead rows of the last.
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE digests_digestitem, digests_digestemail, outreach_emailoutbox CASCADE"
            )
        return
    DigestItem.objects.all().delete()
    DigestEmail.objects.all().delete()
    EmailOutbox.objects.all().delete()


def clear_above_history() -> None:
    DigestItem.objects.filter(pk__gt=HISTORY[DigestItem]).delete()
    DigestEmail.objects.filter(pk__gt=HISTORY[DigestEmail]).delete()
    EmailOutbox.objects.filter(pk__gt=HISTORY[EmailOutbox]).delete()
    if connection.vendor == "postgresql":
        # The deleted rows' space is reused and the planner sees the tables as they are.
        with connection.cursor() as cursor:
            for model in (DigestItem, DigestEmail, EmailOutbox):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


def timed(run) -> dict:
    clear_digests()
    cpu, started = cpu_seconds(), time.perf_counter()
    result = run()
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": cpu_seconds() - cpu,
        **(result or {}),
    }


def run_batched() -> dict:
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        counts = digests_send_due(now=NOW)
    return {"queries": len(queries), "counts": counts}


def best(runs: list[dict]) -> dict:
    return min(runs, key=lambda run: run["seconds"])


def run_naive(sample: int) -> dict:
    """The seeds' loop: per user, ORM reads, every opportunity scored in Python, one save each."""
    users = list(User.objects.filter(subscription__plan__is_pro=True).order_by("pk")[:sample])
    week = NOW.date() - dt.timedelta(days=NOW.weekday())
    started = time.perf_counter()
    for user in users:
        user = User.objects.get(pk=user.pk)
        subscription = Subscription.objects.select_related("plan").get(user=user)
        if (
            not subscription.plan.is_pro
            or DigestEmail.objects.filter(user=user, week_start=week).exists()
        ):
            continue
        sent = set(
            DigestItem.objects.filter(digest__user=user).values_list("opportunity_id", flat=True)
        )
        scored = []
        for opportunity in Opportunity.objects.filter(status="active", deadline__gte=NOW):
            if opportunity.pk in sent:
                continue
            score = 3 * len(set(opportunity.mediums) & set(user.mediums))
            score += 2 * len(set(opportunity.tags) & set(user.interests))
            score += 1.5 if opportunity.country == user.country else 0
            if score:
                scored.append((score, opportunity))
        scored.sort(key=lambda pair: (-pair[0], pair[1].deadline, pair[1].pk))
        picks = [opportunity for _, opportunity in scored[:5]]
        digest = DigestEmail.objects.create(
            user=user, week_start=week, status="queued", opportunity_count=len(picks)
        )
        for position, opportunity in enumerate(picks, start=1):
            DigestItem.objects.create(
                digest=digest, opportunity=opportunity, position=position, score=0
            )
        digest.outbox = outbox_enqueue(
            recipient=user.email,
            template="weekly_digest",
            context={
                "greeting_name": user.username,
                "items": [],
                "view_all_url": "",
                "unsubscribe_url": "",
            },
            category=Category.DIGEST,
            headers=marketing_headers(f"https://bench.invalid/unsubscribe/{user.pk}/"),
            idempotency_key=f"naive:{user.pk}:{week}",
        )
        digest.save(update_fields=["outbox"])
    return {"seconds": time.perf_counter() - started, "users": len(users)}


def peak_memory() -> int:
    clear_digests()
    tracemalloc.start()
    digests_send_due(now=NOW)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--opportunities", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each, best kept")
    parser.add_argument("--naive-sample", type=int, default=300)
    parser.add_argument(
        "--memory-users",
        type=int,
        default=100_000,
        help="second size for the flat-memory check (0 to skip)",
    )
    parser.add_argument(
        "--history-weeks",
        type=int,
        default=4,
        help="past weekly digests per artist, read by the learning recommender (0: none)",
    )
    args = parser.parse_args()
    if not 0 <= args.history_weeks <= 26:
        parser.error("--history-weeks must be between 0 and 26 (the learning window)")
    rng = random.Random(42)

    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        plan = Plan.objects.create(code="pro", name="Pro", monthly_credits=50, is_pro=True)
        build_catalogue(args.opportunities, rng)
        build_users(0, args.users, plan, rng)
        history = {}
        if args.history_weeks:
            started = time.perf_counter()
            history = seed_history(weeks_back=args.history_weeks, now=NOW, rng=rng)
            history["seconds"] = round(time.perf_counter() - started, 1)
            HISTORY.update(history_bounds())
        tastes = taste_stats(now=NOW, sample=1000)

        runs = {"batched": [], "floor": [], "before_23": []}
        for _ in range(args.repeat):
            runs["before_23"].append(timed(lambda: {"counts": digests_send_due_before_23(now=NOW)}))
            runs["batched"].append(timed(run_batched))
            learned = learning_stats()
            picks = floor_picks()
            runs["floor"].append(timed(lambda picks=picks: floor_run(picks, now=NOW)))
        batched, floor, before = (best(runs[name]) for name in ("batched", "floor", "before_23"))
        queued = batched["counts"]["queued"] + batched["counts"]["skipped"]
        users_per_second = args.users / batched["seconds"]
        floor_per_second = args.users / floor["seconds"]
        before_per_second = args.users / before["seconds"]
        queries_per_1000 = batched["queries"] / args.users * 1000
        clear_digests()
        naive = run_naive(args.naive_sample)
        naive_per_second = naive["users"] / naive["seconds"]
        memory_small = peak_memory()
        memory_large = None
        if args.memory_users > args.users:
            build_users(args.users, args.memory_users - args.users, plan, rng)
            memory_large = peak_memory()

        result = {
            "benchmark": "digest",
            "machine": platform.node(),
            "database": connection.vendor,
            "users": args.users,
            "opportunities": args.opportunities,
            "history_weeks": args.history_weeks,
            "history": history,
            "taste_sample": tastes,
            "learned_picks": learned,
            "digests_written": queued,
            "batched_seconds": round(batched["seconds"], 3),
            "batched_users_per_second": round(users_per_second, 1),
            "batched_cpu_seconds": round(batched["cpu_seconds"], 3),
            "floor_seconds": round(floor["seconds"], 3),
            "floor_users_per_second": round(floor_per_second, 1),
            "floor_cpu_seconds": round(floor["cpu_seconds"], 3),
            "floor_commit_seconds": round(floor["commit_seconds"], 3),
            "share_of_floor": round(users_per_second / floor_per_second, 2),
            "before_23_seconds": round(before["seconds"], 3),
            "before_23_users_per_second": round(before_per_second, 1),
            "before_23_cpu_seconds": round(before["cpu_seconds"], 3),
            "speedup_vs_before_23": round(users_per_second / before_per_second, 2),
            "runs_seconds": {
                name: [round(run["seconds"], 3) for run in values] for name, values in runs.items()
            },
            "queries_per_1000_users": round(queries_per_1000, 1),
            "naive_sample_users": naive["users"],
            "naive_users_per_second": round(naive_per_second, 1),
            "speedup_vs_naive": round(users_per_second / naive_per_second, 1),
            "peak_memory_mb": round(memory_small / 2**20, 1),
            "memory_users": args.memory_users if memory_large else None,
            "peak_memory_large_mb": round(memory_large / 2**20, 1) if memory_large else None,
            "memory_ratio": round(memory_large / memory_small, 2) if memory_large else None,
            "targets": {
                "share_of_floor": ">= 0.4",
                "speedup_vs_before_23": ">= 1.5",
                "users_per_second": ">= 1000",
                "speedup_vs_naive": ">= 20",
                "queries_per_1000_users": "<= 30",
                "memory_ratio": "<= 1.5",
            },
        }
    finally:
        teardown_databases(old_config, verbosity=0)

    print(
        f"digest: {args.users} Pro users, {args.opportunities} open opportunities "
        f"({result['database']}), {args.history_weeks} weeks of history"
    )
    if history:
        print(
            f"  history: {history['digests']} digests, {history['opened']} opened, "
            f"{history['clicks']} clicks on {history['looks']} looks "
            f"({history['clicks'] / max(history['looks'], 1):.1%}), "
            f"{history['feedback']} feedback (seeded in {history['seconds']} s)"
        )
    print(
        f"  learning: of {tastes['artists']} artists, {tastes['with_taste']} have a Taste, "
        f"{tastes['with_unnamed_candidate']} weigh an unnamed medium or kind; of "
        f"{learned['users']} digests, {learned['learned']} carry a learned reason, "
        f'{learned["discovery"]} a "you might also like" pick'
    )
    print(
        f"  batched: {result['batched_users_per_second']} users/s "
        f"({result['batched_seconds']} s), {result['queries_per_1000_users']} queries/1000 users"
    )
    print(
        f"  floor (COPY + render): {result['floor_users_per_second']} users/s "
        f"({result['floor_seconds']} s, of which commits {result['floor_commit_seconds']} s); "
        f"digest = {result['share_of_floor']} of it"
    )
    print(
        f"  before #23: {result['before_23_users_per_second']} users/s; "
        f"digest = {result['speedup_vs_before_23']}x"
    )
    print(
        f"  CPU of this process: digest {result['batched_cpu_seconds']} s, floor "
        f"{result['floor_cpu_seconds']} s, before #23 {result['before_23_cpu_seconds']} s"
    )
    print(
        f"  naive loop (sample of {naive['users']} users): "
        f"{result['naive_users_per_second']} users/s"
    )
    print(f"  speed-up: {result['speedup_vs_naive']}x")
    print(f"  peak memory: {result['peak_memory_mb']} MB at {args.users} users", end="")
    if memory_large:
        print(
            f", {result['peak_memory_large_mb']} MB at {args.memory_users} "
            f"(ratio {result['memory_ratio']})"
        )
    else:
        print()
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    name = "digest.json" if args.history_weeks else "digest-no-history.json"
    (out / name).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
