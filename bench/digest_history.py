"""Past weekly digests for bench/digest.py, so its runs measure the digest with learning on.

seed_history() writes, for every Pro artist, N past weekly digests (one a week before `now`,
inside the learning window) of 5 items each, with the sent outbox row each digest's
engagement is read from (DigestEmail.objects.with_delivery()): about 70 % opened (opened_at
on the outbox row), items clicked on about 8 % of looks (clicked_at on the item and the
first click on the outbox row), and "more like this" / "not for me" on about 1 % of items.

Clicks are not random: each artist has a hidden medium and kind they like besides what
their profile names, the same for artists who state the same first medium, so the groups'
priors and each artist's Taste (digests/learning.py) have something to find. An item is
clicked with a chance by its position (the learner's own position weights) and by whether
its medium and kind are liked.

Setup, not timed: the rows are inserted with bulk_create. Their run_id is HISTORY_RUN, so
the bench can tell them from the rows of the run it measures (history_bounds, and
bench/digest_floor.py's floor_picks).
"""

import datetime as dt
import random
from collections import defaultdict
from zoneinfo import ZoneInfo

from digests import selectors, weeks
from digests.learning import position_weight
from digests.models import DigestEmail, DigestItem, Opportunity
from outreach.models import Category, EmailOutbox
from proletto.models import User
from proletto.vocabulary import MEDIUMS

HISTORY_RUN = "bench-history"
ITEMS_PER_DIGEST = 5
OPEN_RATE = 0.70
FEEDBACK_RATE = 0.014  # of opened items: about 1 % of all items
# Chance a looked-at item is clicked (before its position weight), by how it fits the
# artist's real taste: medium liked (named or hidden) and kind liked (the hidden one).
CLICK_RATE = {(True, True): 0.27, (True, False): 0.09, (False, True): 0.055, (False, False): 0.018}
USERS_PER_CHUNK = 1000


def hidden_taste(mediums: list[str]) -> tuple[str, str]:
    """The unnamed medium and kind an artist likes: fixed by their first stated medium (so
    the artists of that group share it, and the group's prior can learn it)."""
    names, kinds = sorted(MEDIUMS), [kind for kind, _ in Opportunity.Kind.choices]
    first = sorted(mediums)[0] if mediums else names[0]
    index = names.index(first)
    hidden = next(
        names[(index + step) % len(names)]
        for step in range(3, 3 + len(names))
        if names[(index + step) % len(names)] not in mediums
    )
    return hidden, kinds[index % len(kinds)]


def seed_history(*, weeks_back: int, now: dt.datetime, rng: random.Random) -> dict:
    """Write `weeks_back` past digests per Pro artist; returns counts of what was written."""
    opportunities = list(Opportunity.objects.values_list("id", "kind", "mediums"))
    by_medium = defaultdict(list)
    for pk, _, mediums in opportunities:
        for medium in mediums or ():
            by_medium[medium].append(pk)
    features = {pk: (kind, frozenset(mediums or ())) for pk, kind, mediums in opportunities}
    all_ids = [pk for pk, _, _ in opportunities]
    counts = defaultdict(int)
    users = list(
        User.objects.filter(subscription__plan__is_pro=True)
        .order_by("pk")
        .values_list("id", "email", "mediums", "timezone")
    )
    for start in range(0, len(users), USERS_PER_CHUNK):
        chunk = users[start : start + USERS_PER_CHUNK]
        plans = []  # (user_id, email, week, created_at, [(opportunity, clicked, feedback)], opened)
        for user_id, email, mediums, zone in chunk:
            mediums = list(mediums or ())
            hidden_medium, hidden_kind = hidden_taste(mediums)
            liked = set(mediums) | {hidden_medium}
            current = weeks.week_of(now.astimezone(ZoneInfo(zone)).date())
            for back in range(1, weeks_back + 1):
                pool = [rng.choice(by_medium[m] or all_ids) for m in mediums for _ in range(3)]
                pool += [rng.choice(by_medium[hidden_medium] or all_ids), rng.choice(all_ids)]
                picks = list(dict.fromkeys(rng.sample(pool, len(pool))))
                while len(picks) < ITEMS_PER_DIGEST:
                    extra = rng.choice(all_ids)
                    if extra not in picks:
                        picks.append(extra)
                opened = rng.random() < OPEN_RATE
                items = []
                for position, pk in enumerate(picks[:ITEMS_PER_DIGEST], start=1):
                    kind, item_mediums = features[pk]
                    fits_medium = not item_mediums or bool(item_mediums & liked)
                    rate = CLICK_RATE[fits_medium, kind == hidden_kind]
                    clicked = opened and rng.random() < position_weight(position) * rate
                    feedback = ""
                    if opened and rng.random() < FEEDBACK_RATE:
                        feedback = "more" if fits_medium else "less"
                    items.append((pk, clicked, feedback))
                created = now - dt.timedelta(weeks=back)
                plans.append(
                    (user_id, email, current - dt.timedelta(weeks=back), created, items, opened)
                )
        _write(plans, counts)
    return dict(counts)


def _write(plans: list, counts: dict) -> None:
    outboxes = []
    for user_id, email, week, created, items, opened in plans:
        clicks = [created + dt.timedelta(hours=2 + i) for i, (_, c, _) in enumerate(items) if c]
        outboxes.append(
            EmailOutbox(
                recipient=email,
                user_id=user_id,
                subject="Your weekly opportunities",
                template="digests/email/weekly_digest",
                category=Category.DIGEST,
                idempotency_key=f"{HISTORY_RUN}:{user_id}:{week.isoformat()}",
                status=EmailOutbox.Status.SENT,
                attempts=1,
                sent_at=created,
                opened_at=created + dt.timedelta(hours=1) if opened else None,
                clicked_at=clicks[0] if clicks else None,
            )
        )
    outboxes = EmailOutbox.objects.bulk_create(outboxes, batch_size=2000)
    digests = DigestEmail.objects.bulk_create(
        [
            DigestEmail(
                user_id=user_id,
                week_start=week,
                status=DigestEmail.Status.QUEUED,
                opportunity_count=len(items),
                outbox=outbox,
                run_id=HISTORY_RUN,
                created_at=created,
            )
            for (user_id, _, week, created, items, _), outbox in zip(plans, outboxes, strict=True)
        ],
        batch_size=2000,
    )
    rows = []
    for (_, _, _, created, items, opened), digest in zip(plans, digests, strict=True):
        counts["digests"] += 1
        counts["opened"] += opened
        for position, (pk, clicked, feedback) in enumerate(items, start=1):
            counts["items"] += 1
            counts["looks"] += opened
            counts["clicks"] += clicked
            counts["feedback"] += bool(feedback)
            rows.append(
                DigestItem(
                    digest=digest,
                    opportunity_id=pk,
                    position=position,
                    score=0.0,
                    reasons=[],
                    clicked_at=created + dt.timedelta(hours=2 + position) if clicked else None,
                    feedback=feedback,
                    feedback_at=created + dt.timedelta(hours=3) if feedback else None,
                )
            )
    DigestItem.objects.bulk_create(rows, batch_size=5000)


def history_bounds() -> dict:
    """The highest id of each digest table after seeding: rows above are a measured run's."""
    return {
        model: model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        for model in (DigestItem, DigestEmail, EmailOutbox)
    }


LEARNED = ("you might also like", "clicked more than usual", "clicked less than usual",
           "you asked for more like", "you said not for me")  # fmt: skip


def learning_stats() -> dict:
    """Of the digests a run just queued (not the history): how many artists got at least one
    pick whose reasons are learned (recommender.reasons: a lift, a discovery, feedback), and
    how many got a "you might also like" discovery pick."""
    learned, discovery, users = set(), set(), set()
    items = DigestItem.objects.exclude(digest__run_id=HISTORY_RUN).values_list(
        "digest__user_id", "reasons"
    )
    for user_id, reasons in items.iterator(chunk_size=5000):
        users.add(user_id)
        for reason in reasons:
            if reason.startswith(LEARNED):
                learned.add(user_id)
            if reason.startswith(LEARNED[0]):
                discovery.add(user_id)
    return {"users": len(users), "learned": len(learned), "discovery": len(discovery)}


def taste_stats(*, now, sample: int) -> dict:
    """Of the first `sample` artists, how many get a Taste from the learner, and how many a
    Taste weighing a medium or kind their profile does not name (a candidate the groups or
    their own clicks found): what digests/selectors.digest_profiles reads from the history."""
    users = list(
        selectors.digest_candidates(now=now)
        .order_by("pk")
        .values(*selectors.PROFILE_FIELDS)[:sample]
    )
    profiles = selectors.digest_profiles(users, priors=selectors.taste_priors(now=now), now=now)
    tastes = [profile.taste for profile in profiles.values() if profile.taste is not None]
    return {
        "artists": len(users),
        "with_taste": len(tastes),
        "with_unnamed_candidate": sum(
            1 for profile in profiles.values() if profile.taste and profile.explore
        ),
    }
