"""Reads of opportunities and sources that more than one caller needs."""

import random
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
)
from django.utils import timezone

from billing.selectors import pro_subscribers
from digests import weeks
from digests.errors import DigestsError
from digests.learning import (
    Rates,
    TastePriors,
    artist_exploration,
    artist_lifts,
    artist_taste,
    click_rates,
    profile_groups,
    rates_by_group,
    taste_shifts,
)
from digests.models import DigestEmail, DigestItem, Opportunity, OpportunitySource
from digests.recommender import Item, Profile, named_features
from proletto.lookups import AnyOf

OPPORTUNITY_KINDS = frozenset(Opportunity.Kind.values)


def open_opportunities(*, now=None) -> QuerySet[Opportunity]:
    """Opportunities one can still apply to: active, and a deadline not passed (or rolling).

    The one definition of "open": the digest and the admin both use it, so an opportunity
    the expiry sweep has not reached yet is still left out once its deadline has passed.
    """
    now = now or timezone.now()
    return Opportunity.objects.filter(status=Opportunity.Status.ACTIVE).filter(
        Q(deadline__isnull=True) | Q(deadline__gte=now)
    )


def sources_due(*, now=None) -> QuerySet[OpportunitySource]:
    now = now or timezone.now()
    return OpportunitySource.objects.filter(enabled=True).filter(
        Q(next_fetch_at__isnull=True) | Q(next_fetch_at__lte=now)
    )


# --- the weekly digest -----------------------------------------------------------------------

# Career stages an eligibility text restricts to, by the words that say so. Text naming no
# stage is open to all; "emerging" calls are open to students too.
ELIGIBILITY_STAGE_WORDS = {
    "student": {"student"},
    "graduate": {"student", "emerging"},
    "emerging": {"student", "emerging"},
    "early-career": {"student", "emerging"},
    "early career": {"student", "emerging"},
    "mid-career": {"mid-career"},
    "mid career": {"mid-career"},
    "established": {"established"},
}


def eligible_stages(eligibility: str) -> frozenset[str]:
    text = eligibility.lower()
    stages: set[str] = set()
    for words, allowed in ELIGIBILITY_STAGE_WORDS.items():
        if words in text:
            stages |= allowed
    return frozenset(stages)


def digest_candidates(*, now) -> QuerySet:
    """Users who get the weekly digest at all: Pro, opted in, not unsubscribed, not paused
    (the preferences page) at `now`, with an email."""
    return (
        pro_subscribers()
        .filter(digest_opt_in=True, unsubscribed_at__isnull=True)
        .filter(Q(digest_paused_until__isnull=True) | Q(digest_paused_until__lte=now))
        .exclude(email="")
    )


def digest_candidate_zones(*, now) -> list[str]:
    return list(digest_candidates(now=now).values_list("timezone", flat=True).distinct())


def digest_recipients(*, week, zones, now) -> QuerySet:
    """Candidates in these zones with no digest for this week yet (test digests don't count)."""
    has_digest = DigestEmail.objects.filter(user=OuterRef("pk"), week_start=week).exclude(
        status=DigestEmail.Status.TEST
    )
    return digest_candidates(now=now).filter(timezone__in=zones).exclude(Exists(has_digest))


def catalogue_items(*, now) -> list[Item]:
    """Every open opportunity as the recommender sees it, in one query."""
    rows = open_opportunities(now=now).values_list(
        "id", "kind", "mediums", "tags", "country", "is_remote", "deadline", "eligibility"
    )
    return [
        Item(
            id=pk,
            kind=kind,
            mediums=frozenset(mediums or ()),
            tags=frozenset(tags or ()),
            country=country,
            is_remote=is_remote,
            deadline=_deadline_day(deadline, now=now),
            eligible_stages=eligible_stages(eligibility),
        )
        for pk, kind, mediums, tags, country, is_remote, deadline, eligibility in rows.iterator(
            chunk_size=2000
        )
    ]


def _deadline_day(deadline, *, now):
    """The day the recommender counts "days left" to, from the instant: today plus the whole
    days until it closes. The UTC date of the instant was a day off for zones far from UTC."""
    if deadline is None:
        return None
    return now.date() + timedelta(days=(deadline - now).days)


def opportunity_click_counts(*, now) -> dict[int, int]:
    """Per open opportunity, how many artists clicked it in a digest: one aggregate query."""
    return dict(
        DigestItem.objects.filter(
            clicked_at__isnull=False, opportunity__in=open_opportunities(now=now)
        )
        .values("opportunity_id")
        .annotate(artists=Count("digest__user_id", distinct=True))
        .values_list("opportunity_id", "artists")
    )


PROFILE_FIELDS = (
    "id",
    "email",
    "username",
    "display_name",
    "mediums",
    "interests",
    "country",
    "career_stage",
    "timezone",
)


def taste_priors(*, now) -> TastePriors:
    """What artists with similar profiles click, from every digest of the learning window:
    aggregated in memory per profile group (digests.learning.rates_by_group). Three queries:
    the seen items as plain numbers, and the features of their opportunities and the
    profiles of their artists, each decoded once (not once per item)."""
    if not settings.DIGEST_LEARNING:
        return TastePriors({})
    seen = _seen_items(now=now)
    features = _opportunity_features(seen.values("opportunity_id"))
    profiles = {
        user_id: (mediums or (), interests or ())
        for user_id, mediums, interests in get_user_model()
        .objects.filter(pk__in=seen.values("digest__user_id"))
        .values_list("id", "mediums", "interests")
        .iterator(chunk_size=5000)
    }
    rows = (
        seen.annotate(clicked=_CLICKED)
        .values_list("digest__user_id", *_LEARNING_FIELDS)
        .iterator(chunk_size=5000)
    )
    by_group = rates_by_group(
        (
            (user_id, opportunity_id, _fit(features[opportunity_id], profiles[user_id]))
            + (position, clicked, feedback)
            for user_id, opportunity_id, position, clicked, feedback in rows
        ),
        groups_of={
            user_id: profile_groups(mediums=mediums, interests=interests)
            for user_id, (mediums, interests) in profiles.items()
        },
        features_of={pk: item_features for pk, (item_features, _, _) in features.items()},
    )
    return TastePriors(by_group, opportunities=features)


# Per seen item, only numbers and short strings: an opportunity's features are read once per
# query (_opportunity_features), not decoded from JSON again for every item that showed it.
# "clicked" (_CLICKED, annotated where the rows are read) is whether it was clicked: when
# does not matter here, and decoding the time of every click cost more than the rest of the
# row (a run: 0.1 s for 20,000 clicks).
_LEARNING_FIELDS = ("opportunity_id", "position", "clicked", "feedback")
_CLICKED = ExpressionWrapper(Q(clicked_at__isnull=False), output_field=BooleanField())
_ANSWERS = frozenset(DigestItem.Feedback.values)  # "more like this", "not for me"


def _seen_items(*, now) -> QuerySet:
    return DigestItem.objects.filter(_seen(now=now))


def _seen(*, now) -> Q:
    # Items of digests of the learning window the artist opened (a click or a feedback link
    # implies it): an unopened digest says nothing about its items. Clicks by link scanners
    # were never recorded.
    since = now - timedelta(weeks=settings.DIGEST_LEARNING_WEEKS)
    return Q(digest__created_at__gte=since) & (
        Q(digest__outbox__opened_at__isnull=False) | ~Q(feedback="")
    )


def _opportunity_features(ids) -> dict[int, tuple]:
    """The learner's features of each of these opportunities (ids, or a query of them):
    (features, kind, mediums)."""
    rows = Opportunity.objects.filter(pk__in=ids).values_list("id", "kind", "mediums", "tags")
    return {
        pk: (
            (
                f"kind:{kind}",
                *(f"medium:{m}" for m in mediums or ()),
                *(f"tag:{t}" for t in tags or ()),
            ),
            kind,
            frozenset(mediums or ()),
        )
        for pk, kind, mediums, tags in rows.iterator(chunk_size=2000)
    }


def _fit(opportunity_features: tuple, profile: tuple) -> str:
    # profile_fit's answer, from the opportunity's own fields rather than its feature strings.
    _, kind, item_mediums = opportunity_features
    mediums, interests = profile
    if not item_mediums:
        medium = "open"
    elif item_mediums.isdisjoint(mediums):
        medium = "other"
    else:
        medium = "named"
    return _FITS[medium, kind in interests]


_FITS = {
    (medium, kind_named): f"{medium}/{'named' if kind_named else 'other'}"
    for medium in ("named", "other", "open")
    for kind_named in (True, False)
}


def digest_profiles(users: list[dict], *, priors: TastePriors, now) -> dict[int, Profile]:
    """Profiles for a batch of users (PROFILE_FIELDS dicts): one query for the whole batch.

    Learning comes from what each artist was shown, clicked and said in the learning window
    (and what similar artists click, `priors`); every opportunity already sent in any digest,
    test digests included, is excluded from later ones.
    """
    user_ids = [user["id"] for user in users]
    # Every item ever sent to them, and whether it is one to learn from: one query, not one
    # for what was sent and one for what was seen.
    items = DigestItem.objects.filter(AnyOf(F("digest__user_id"), user_ids)).annotate(
        learn=ExpressionWrapper(_seen(now=now), output_field=BooleanField()), clicked=_CLICKED
    )
    sent: dict[int, set[int]] = defaultdict(set)
    seen = []
    signal = set()  # artists who clicked or answered an item seen
    for user_id, learn, opportunity_id, position, clicked, feedback in items.values_list(
        "digest__user_id", "learn", *_LEARNING_FIELDS
    ):
        sent[user_id].add(opportunity_id)
        if learn:
            seen.append((user_id, opportunity_id, position, clicked, feedback))
            if clicked or feedback in _ANSWERS:
                signal.add(user_id)
    # Silence is not a signal: the Rates of an artist who never clicked nor answered read as
    # empty ones (Rates.has_signal is false: no lift, look or click of their own is used, and
    # they ask for nothing more or less), so their items are not added (a quarter of a run's).
    seen = [item for item in seen if item[0] in signal]
    learning = settings.DIGEST_LEARNING  # read once: a lazy settings read costs per user
    # Of an artist's looks, artist_lifts reads the tags' alone once there is a Taste (the
    # Taste weighs mediums and kinds; click_rates says if there is one, once per run): the
    # others are not kept (about half the dictionary updates of their items).
    kept = "" if not learning or click_rates(priors) is None else "tag:"
    rates: dict[int, Rates] = defaultdict(lambda: Rates(seen=[], looks_kept=kept))
    if learning:
        stated = {user["id"]: (user["mediums"] or (), user["interests"] or ()) for user in users}
        # Read by the run's priors, but for opportunities first seen since (by id, from the
        # rows read: not the seen-items query again as a subquery).
        features = priors.opportunities
        missing = {item[1] for item in seen} - features.keys()
        if missing:
            features = features | _opportunity_features(sorted(missing))
        for user_id, opportunity_id, position, clicked, feedback in seen:
            opportunity = features[opportunity_id]
            rates[user_id].add(
                opportunity[0],
                fit=_fit(opportunity, stated[user_id]),
                position=position,
                clicked=clicked,
                feedback=feedback,
            )
    profiles = {}
    week = now.date().isocalendar()[:2]  # of the artists' seeds: the same for the whole batch
    for user in users:
        mediums = frozenset(user["mediums"] or ())
        interests = frozenset(user["interests"] or ())
        own = rates[user["id"]]
        lifts, explore, taste = {}, {}, None
        if learning:
            groups = profile_groups(mediums=mediums, interests=interests)
            named = named_features(mediums=mediums, interests=interests)
            # Seeded per artist and week: the same run twice gives the same digest.
            chance = random.Random(f"{user['id']}:{week}")
            taste = artist_taste(
                own,
                mediums=sorted(mediums),
                kinds=sorted(i for i in interests if i in OPPORTUNITY_KINDS),
                named=named,
                priors=priors,
                chance=chance,
            )
            if taste is None:
                lifts = artist_lifts(own, groups=groups, priors=priors)
                explore = artist_exploration(
                    lifts, groups=groups, named=named, priors=priors, chance=chance
                )
            else:
                # Mediums and kinds come from the Taste; the lifts say why, tags still count.
                lifts = artist_lifts(own, groups=groups, priors=priors, prefix="tag:")
                lifts |= taste_shifts(taste)
                explore = {f: 1.0 for f in taste.prior if f not in named}
        profiles[user["id"]] = Profile(
            taste=taste,
            user_id=user["id"],
            mediums=mediums,
            interests=interests,
            country=user["country"],
            career_stage=user["career_stage"],
            lifts=lifts,
            explore=explore,
            more=frozenset(own.more),
            less=frozenset(own.less),
            already_sent=frozenset(sent[user["id"]]),
        )
    return profiles


def opportunities_filtered(filters: dict, *, now=None) -> QuerySet:
    """Open opportunities for the public list, narrowed by the list page's filters."""
    now = now or timezone.now()
    opportunities = open_opportunities(now=now).order_by(F("deadline").asc(nulls_last=True), "id")
    if filters.get("q"):
        opportunities = opportunities.filter(
            Q(title__icontains=filters["q"])
            | Q(organisation__icontains=filters["q"])
            | Q(description__icontains=filters["q"])
        )
    if filters.get("medium"):
        # JSON lists are matched as text so the same query runs on SQLite and PostgreSQL.
        opportunities = opportunities.filter(mediums__icontains=f'"{filters["medium"]}"')
    if filters.get("kind"):
        opportunities = opportunities.filter(kind=filters["kind"])
    if filters.get("deadline_within"):
        until = now + timedelta(days=int(filters["deadline_within"]))
        opportunities = opportunities.filter(deadline__lte=until)
    location = (filters.get("location") or "").strip()
    if location.lower() == "remote":
        opportunities = opportunities.filter(is_remote=True)
    elif len(location) == 2 and location.isalpha():
        opportunities = opportunities.filter(country=location.upper())
    elif location:
        opportunities = opportunities.filter(
            Q(city__icontains=location) | Q(location_text__icontains=location)
        )
    return opportunities


def user_by_reference(reference: str):
    """The one user an id, username or email names; DigestsError if none or several."""
    users = get_user_model().objects
    reference = reference.strip()
    how = "give a user id, a username or an email (see /admin/proletto/user/)"
    if reference.isdigit():
        matches = list(users.filter(pk=int(reference))[:2])
    else:
        matches = list(users.filter(username=reference)[:2]) or list(
            users.filter(email__iexact=reference)[:2]
        )
    if not matches:
        raise DigestsError(f"no user {reference!r}: {how}")
    if len(matches) > 1:
        raise DigestsError(f"{reference!r} names several users: {how}, e.g. the id")
    return matches[0]


def digest_of_this_week(*, user, now=None) -> DigestEmail | None:
    """The weekly digest (not a test) of `user`'s current week in their zone, with its email."""
    now = now or timezone.now()
    week = weeks.week_of(now.astimezone(user.zone).date())
    return (
        DigestEmail.objects.with_delivery()
        .exclude(status=DigestEmail.Status.TEST)
        .filter(user=user, week_start=week)
        .select_related("outbox")
        .first()
    )


def test_digests_requested_since(*, requested_by, since, limit: int):
    """If `requested_by` asked for `limit` or more test digests since `since`: when the oldest
    of the latest `limit` was created (the limit frees up an hour after it). None otherwise."""
    if limit <= 0:
        return since
    created = list(
        DigestEmail.objects.filter(
            status=DigestEmail.Status.TEST, requested_by=requested_by, created_at__gte=since
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:limit]
    )
    return created[-1] if len(created) >= limit else None


def digest_weekly_rates(*, weeks: int = 12) -> list[dict]:
    """Per week: digests sent (or on their way), opened and clicked, and the rates; one
    aggregate query."""
    rows = (
        DigestEmail.objects.with_delivery()
        .filter(delivery__in=[DigestEmail.Delivery.SENT, DigestEmail.Delivery.QUEUED])
        .values("week_start")
        .annotate(
            sent=Count("id"),
            opened=Count("id", filter=Q(opened_at__isnull=False)),
            clicked=Count("id", filter=Q(clicked_at__isnull=False)),
        )
        .order_by("-week_start")[:weeks]
    )
    return [
        {
            **row,
            "open_rate": row["opened"] / row["sent"] if row["sent"] else 0.0,
            "click_rate": row["clicked"] / row["sent"] if row["sent"] else 0.0,
        }
        for row in reversed(list(rows))
    ]
