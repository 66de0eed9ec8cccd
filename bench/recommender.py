"""Offline evaluation: does the digest recommender learn what artists really want?

    .venv/bin/python bench/recommender.py [--seeds 3] [--artists 500] [--items 1200] [--weeks 8]

A simulated world (bench/recommender_world.py) of artists whose true taste differs from
their profile, in a throwaway database (test_<name> of BENCH_DATABASE_URL). Four arms, each
over the same artists, catalogue and weeks:

- learning: the real weekly run (digests_send_due) picks every digest; the simulated artists
  open them through the open pixel's service and click through the click link's service
  (digests.services.tracking), and the next week's run learns from what was stored;
- profile-only: the same run with DIGEST_LEARNING off (the profile alone);
- popular: the same items for everyone, the most clicked first;
- oracle: the best items for each artist's true taste (the ceiling).

Reported per arm: expected clicks per artist-week and precision@5 over weeks 2..N (week 1
has nothing to learn from), and the lift of learning over profile-only with a bootstrap 95 %
range (artists resampled within each world). With --feedback the simulated artists also use
the cards' "more like this" / "not for me" links (through the same tracking service).
Writes bench/results/recommender.json (recommender-feedback.json with --feedback).
"""

import argparse
import datetime as dt
import json
import logging
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.django_setup import bench_django_setup  # noqa: E402

bench_django_setup()
logging.getLogger("digests").setLevel(logging.WARNING)  # one line per weekly run is noise here

from django.db import connection  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402

from bench.recommender_world import (  # noqa: E402
    BASE,
    OPEN_PROBABILITY,
    POSITION_WEIGHTS,
    RELEVANT,
    World,
    oracle_picks,
    popular_picks,
    week_start,
    world_build,
)
from billing.models import Plan, Subscription  # noqa: E402
from digests.models import DigestEmail, DigestItem, Opportunity  # noqa: E402
from digests.services import tracking  # noqa: E402
from digests.services.digest import digests_send_due  # noqa: E402
from outreach.models import EmailOutbox  # noqa: E402
from proletto.models import User  # noqa: E402

FIRST_MONDAY = dt.datetime(2027, 1, 4, 8, 30, tzinfo=dt.UTC)  # 08:30 in London: due
ZONE = "Europe/London"
LIMIT = 5
ARMS = ("learning", "profile_only", "popular", "oracle")


def world_store(world: World, plan: Plan) -> tuple[dict, dict]:
    """The world's catalogue and artists as rows: (opportunity id -> item, user id -> artist)."""
    DigestItem.objects.all().delete()
    DigestEmail.objects.all().delete()
    EmailOutbox.objects.all().delete()
    Opportunity.objects.all().delete()
    User.objects.all().delete()
    opportunities = Opportunity.objects.bulk_create(
        [
            Opportunity(
                title=item.key,
                url=f"https://calls.example/{item.key}",
                kind=item.kind,
                mediums=list(item.mediums),
                tags=list(item.tags),
                is_remote=item.is_remote,
                deadline=FIRST_MONDAY + dt.timedelta(days=item.days_left),
                first_seen_at=FIRST_MONDAY,
                last_seen_at=FIRST_MONDAY,
                content_hash=item.key,
            )
            for item in world.items
        ]
    )
    users = User.objects.bulk_create(
        [
            User(
                username=artist.key,
                email=f"{artist.key}@bench.test",
                password="!",
                mediums=list(artist.stated_mediums),
                interests=[*artist.stated_kinds, *artist.tags],
                timezone=ZONE,
            )
            for artist in world.artists
        ]
    )
    Subscription.objects.bulk_create(
        [Subscription(user=user, plan=plan, billing_anchor=FIRST_MONDAY) for user in users]
    )
    return (
        {row.pk: item for row, item in zip(opportunities, world.items, strict=True)},
        {row.pk: artist for row, artist in zip(users, world.artists, strict=True)},
    )


def arm_weekly_run(
    world, items, artists, *, learning: bool, weeks: int, feedback: float, rng
) -> np.ndarray:
    """The real weekly run for `weeks` weeks: [artist, week] -> (expected clicks, precision),
    and [week] -> the counts of `_reach`."""
    DigestItem.objects.all().delete()
    DigestEmail.objects.all().delete()
    EmailOutbox.objects.all().delete()
    index = {user_id: i for i, user_id in enumerate(artists)}
    scores = np.zeros((len(artists), weeks, 2))
    reach = np.zeros((weeks, 4))
    with override_settings(DIGEST_LEARNING=learning):
        for week in range(weeks):
            now = week_start(FIRST_MONDAY, week)
            digests_send_due(now=now)
            picks: dict[int, list] = {}
            digest_of: dict[int, int] = {}
            for digest_id, user_id, opportunity_id in (
                DigestItem.objects.filter(digest__created_at=now)
                .order_by("digest_id", "position")
                .values_list("digest_id", "digest__user_id", "opportunity_id")
            ):
                picks.setdefault(user_id, []).append(opportunity_id)
                digest_of[user_id] = digest_id
            for user_id, opportunity_ids in sorted(picks.items()):
                artist = artists[user_id]
                shown = [items[i] for i in opportunity_ids]
                scores[index[user_id], week] = _score(world, artist, shown)
                reach[week] += _reach(world, artist, shown)
                if rng.random() >= OPEN_PROBABILITY:
                    continue
                read_at = now + dt.timedelta(hours=3)
                tracking.digest_record_open(digest_id=digest_of[user_id], at=read_at)
                for position, (opportunity_id, item) in enumerate(
                    zip(opportunity_ids, shown, strict=True)
                ):
                    liking = world.click_probability(artist, item)
                    at = read_at + dt.timedelta(minutes=2 * position + 1)
                    clicked = rng.random() < POSITION_WEIGHTS[position] * liking
                    if clicked:
                        tracking.digest_record_click(
                            digest_id=digest_of[user_id], opportunity_id=opportunity_id, at=at
                        )
                    answer = _answer(world, liking, clicked=clicked, rate=feedback, rng=rng)
                    if answer:
                        tracking.digest_record_feedback(
                            digest_id=digest_of[user_id],
                            opportunity_id=opportunity_id,
                            signal=answer,
                            at=at + dt.timedelta(seconds=30),
                        )
    return scores, reach


def _reach(world, artist, shown) -> tuple[int, int, int, int]:
    """Where learning gets to, beyond expected clicks: picks outside the profile (a medium
    or a kind it does not name) and how many of them the artist truly likes; for an artist
    whose kind drifted, picks and how many of them are of the kind the profile hides."""
    stated_mediums, stated_kinds = set(artist.stated_mediums), set(artist.stated_kinds)
    outside = [
        item
        for item in shown
        if item.kind not in stated_kinds
        or (item.mediums and not stated_mediums & set(item.mediums))
    ]
    hidden_kinds = artist.true_kinds - stated_kinds
    return (
        len(outside),
        sum(1 for item in outside if world.relevant(artist, item)),
        len(shown) if hidden_kinds else 0,
        sum(1 for item in shown if item.kind in hidden_kinds),
    )


def _answer(world, liking: float, *, clicked: bool, rate: float, rng) -> str:
    """With --feedback: now and then an artist says "more like this" of a call they clicked
    and truly like, or "not for me" of one that is nothing like what they want."""
    if rate <= 0:
        return ""
    if clicked and liking >= RELEVANT and rng.random() < rate:
        return "more"
    if not clicked and liking <= BASE and rng.random() < rate / 3:
        return "less"
    return ""


def arm_in_memory(world, *, oracle: bool, weeks: int, rng) -> np.ndarray:
    scores = np.zeros((len(world.artists), weeks, 2))
    sent = {artist.key: set() for artist in world.artists}
    clicks: dict[str, int] = {}
    for week in range(weeks):
        this_week = []
        for a, artist in enumerate(world.artists):
            if oracle:
                shown = oracle_picks(world, artist, sent=sent[artist.key], limit=LIMIT)
            else:
                shown = popular_picks(world, clicks, sent=sent[artist.key], limit=LIMIT)
            sent[artist.key].update(item.key for item in shown)
            scores[a, week] = _score(world, artist, shown)
            this_week.append((artist, shown))
        for artist, shown in this_week:
            if rng.random() >= OPEN_PROBABILITY:
                continue
            for position, item in enumerate(shown):
                chance = POSITION_WEIGHTS[position] * world.click_probability(artist, item)
                if rng.random() < chance:
                    clicks[item.key] = clicks.get(item.key, 0) + 1
    return scores


def _score(world, artist, shown) -> tuple[float, float]:
    relevant = sum(1 for item in shown if world.relevant(artist, item))
    return world.expected_clicks(artist, shown), relevant / LIMIT


def lift_range(learning: list, baseline: list, *, resamples: int, seed: int) -> tuple:
    """Lift of sum(learning) over sum(baseline), per-artist totals resampled within each world;
    the point estimate and the 2.5 and 97.5 percentiles."""
    rng = np.random.default_rng(seed)
    point = sum(x.sum() for x in learning) / sum(x.sum() for x in baseline) - 1
    lifts = np.empty(resamples)
    for r in range(resamples):
        numerator = denominator = 0.0
        for ours, theirs in zip(learning, baseline, strict=True):
            sample = rng.integers(0, ours.size, ours.size)
            numerator += ours[sample].sum()
            denominator += theirs[sample].sum()
        lifts[r] = numerator / denominator - 1
    low, high = np.percentile(lifts, [2.5, 97.5])
    return float(point), float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--artists", type=int, default=500)
    parser.add_argument("--items", type=int, default=1200)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--hidden-share", type=float, default=0.5)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument(
        "--feedback",
        type=float,
        default=0.0,
        help="chance an artist answers 'more like this' of a liked click (a third of it: "
        "'not for me' of a call nothing like their taste); 0: clicks only",
    )
    args = parser.parse_args()

    old_config = setup_databases(verbosity=0, interactive=False)
    per_arm = {arm: [] for arm in ARMS}
    reach_of = {arm: np.zeros(4) for arm in ("learning", "profile_only")}
    try:
        plan = Plan.objects.create(code="pro", name="Pro", monthly_credits=50, is_pro=True)
        for seed in range(1, args.seeds + 1):
            world = world_build(
                seed=seed, artists=args.artists, items=args.items, hidden_share=args.hidden_share
            )
            items, artists = world_store(world, plan)
            for arm in ARMS:
                rng = random.Random(seed * 100 + ARMS.index(arm))
                if arm in ("learning", "profile_only"):
                    scores, reach = arm_weekly_run(
                        world,
                        items,
                        artists,
                        learning=arm == "learning",
                        weeks=args.weeks,
                        feedback=args.feedback,
                        rng=rng,
                    )
                    reach_of[arm] += reach[1:].sum(axis=0)
                else:
                    scores = arm_in_memory(world, oracle=arm == "oracle", weeks=args.weeks, rng=rng)
                per_arm[arm].append(scores)
                later = scores[:, 1:, :]
                print(
                    f"world {seed} {arm:>12}: expected clicks/artist-week "
                    f"{later[:, :, 0].mean():.4f}, precision@5 {later[:, :, 1].mean():.3f}",
                    flush=True,
                )
    finally:
        teardown_databases(old_config, verbosity=0)

    def later_clicks(arm):  # per artist, expected clicks summed over weeks 2..N, per world
        return [scores[:, 1:, 0].sum(axis=1) for scores in per_arm[arm]]

    result = {
        "benchmark": "recommender",
        "database": connection.vendor,
        "seeds": args.seeds,
        "artists": args.artists,
        "items": args.items,
        "weeks": args.weeks,
        "hidden_share": args.hidden_share,
        "feedback": args.feedback,
        "arms": {},
    }
    for arm in ARMS:
        later = np.concatenate([scores[:, 1:, :] for scores in per_arm[arm]])
        result["arms"][arm] = {
            "expected_clicks_per_artist_week": round(float(later[:, :, 0].mean()), 4),
            "precision_at_5": round(float(later[:, :, 1].mean()), 3),
            "by_week": [round(float(x), 4) for x in np.concatenate(per_arm[arm])[:, :, 0].mean(0)],
        }
    for arm, (outside, liked, hidden_kind_picks, hidden_kind) in reach_of.items():
        result["arms"][arm]["picks_outside_profile"] = {
            "share": round(outside / (args.artists * args.seeds * (args.weeks - 1) * LIMIT), 3),
            "truly_liked": round(liked / outside, 3) if outside else None,
        }
        result["arms"][arm]["hidden_kind_share_for_drifted_artists"] = (
            round(hidden_kind / hidden_kind_picks, 3) if hidden_kind_picks else None
        )
    baseline = later_clicks("profile_only")
    for arm in ("learning", "popular", "oracle"):
        point, low, high = lift_range(later_clicks(arm), baseline, resamples=args.resamples, seed=7)
        result["arms"][arm]["lift_vs_profile_only"] = {
            "point": round(point, 4),
            "low": round(low, 4),
            "high": round(high, 4),
        }
    result["per_world_learning_lift"] = [
        round(float(ours.sum() / theirs.sum() - 1), 4)
        for ours, theirs in zip(later_clicks("learning"), baseline, strict=True)
    ]
    learning = result["arms"]["learning"]["lift_vs_profile_only"]
    oracle = result["arms"]["oracle"]["lift_vs_profile_only"]
    result["learning_share_of_oracle_gap"] = round(learning["point"] / oracle["point"], 3)
    result["targets"] = {"learning_lift": ">= 0.10 with the 95 % range above 0"}

    print(f"\nweeks 2..{args.weeks}, {args.seeds} worlds of {args.artists} artists:")
    for arm in ARMS:
        figures = result["arms"][arm]
        lift = figures.get("lift_vs_profile_only")
        text = (
            f", lift {lift['point']:+.1%} (95 % {lift['low']:+.1%} to {lift['high']:+.1%})"
            if lift
            else ""
        )
        print(
            f"  {arm:>12}: {figures['expected_clicks_per_artist_week']:.4f} expected clicks, "
            f"precision@5 {figures['precision_at_5']:.3f}{text}"
        )
    print(f"  per world, learning lift: {result['per_world_learning_lift']}")
    for arm in reach_of:
        figures = result["arms"][arm]
        outside = figures["picks_outside_profile"]
        print(
            f"  {arm:>12}: picks outside the profile {outside['share']:.1%}"
            f", of which truly liked {outside['truly_liked'] or 0:.1%}"
            "; artists whose kind drifted got it in "
            f"{figures['hidden_kind_share_for_drifted_artists'] or 0:.1%} of their picks"
        )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    name = "recommender-feedback.json" if args.feedback > 0 else "recommender.json"
    (out / name).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
