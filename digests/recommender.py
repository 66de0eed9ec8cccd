"""The digest recommender: ranks open opportunities for an artist.

Works on plain values, not model instances, so one catalogue built per run (one query) scores
every user of the batch in memory. Scoring is indexed: each user only touches the
opportunities that share a medium, a tag or a learned preference with them (postings of an
inverted index), never the whole catalogue.

The score is a sum of named parts so the admin can show why an item was picked:
- profile fit: mediums, interests (tags and the kind of opportunity), location;
- engagement: mediums, tags and kinds of opportunities the user clicked in past digests
  raise similar ones. Digests that were never opened change nothing: silence is not a
  signal, so nobody is punished for a busy inbox;
- deadline: soon but not too soon is best; too close to apply is excluded.
Ties break by earlier deadline, then lower id, so the same data always gives the same digest.
"""

import datetime as dt
import heapq
from collections import Counter, defaultdict
from dataclasses import dataclass, field

MEDIUM_MATCH = 3.0  # per medium shared with the profile
OPEN_TO_ALL_MEDIUMS = 1.0  # the opportunity names no medium: any artist may apply
INTEREST_MATCH = 2.0  # per interest that is one of the opportunity's tags or its kind
SAME_COUNTRY = 1.5
REMOTE = 1.0
ENGAGEMENT_PER_FEATURE = 0.75  # per medium/tag/kind the user clicked before...
ENGAGEMENT_SATURATION = 3  # ...growing with clicks up to this many
# Below one medium match, so learning reorders what fits the profile but never lets
# something the profile does not ask for overtake it.
ENGAGEMENT_CAP = 1.5

MIN_DAYS_LEFT = 3  # fewer days than this is too late to prepare an application


def deadline_points(days_left: int | None) -> tuple[float, str]:
    if days_left is None:
        return 0.25, "rolling deadline"
    if days_left < 7:
        return 0.25, f"deadline in {days_left} days"
    if days_left <= 45:
        return 1.0, f"deadline in {days_left} days"
    if days_left <= 90:
        return 0.5, f"deadline in {days_left} days"
    return 0.25, f"deadline in {days_left} days"


@dataclass(frozen=True)
class Item:
    """An open opportunity as the recommender sees it."""

    id: int
    kind: str = ""
    mediums: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    country: str = ""
    is_remote: bool = False
    deadline: dt.date | None = None
    # Empty means open to everyone.
    eligible_countries: frozenset[str] = frozenset()
    eligible_stages: frozenset[str] = frozenset()

    @property
    def features(self) -> set[str]:
        return (
            {f"medium:{m}" for m in self.mediums}
            | {f"tag:{t}" for t in self.tags}
            | ({f"kind:{self.kind}"} if self.kind else set())
        )


@dataclass(frozen=True)
class Profile:
    """An artist as the recommender sees them."""

    user_id: int
    mediums: frozenset[str] = frozenset()
    interests: frozenset[str] = frozenset()
    country: str = ""
    career_stage: str = ""
    # Features ("medium:painting", "tag:ecology", "kind:residency") of clicked items, counted.
    clicked: Counter = field(default_factory=Counter)
    # Opportunities already sent in earlier digests: never sent again.
    already_sent: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Pick:
    item_id: int
    score: float
    reasons: tuple[str, ...]


class Catalogue:
    def __init__(self, items, *, today: dt.date):
        self.today = today
        self.items: dict[int, Item] = {}
        self.by_feature: dict[str, list[int]] = defaultdict(list)
        self.open_to_all_mediums: list[int] = []
        self.remote: list[int] = []
        self.by_country: dict[str, list[int]] = defaultdict(list)
        for item in items:
            days_left = (item.deadline - today).days if item.deadline else None
            if days_left is not None and days_left < MIN_DAYS_LEFT:
                continue
            self.items[item.id] = item
            for feature in item.features:
                self.by_feature[feature].append(item.id)
            if not item.mediums:
                self.open_to_all_mediums.append(item.id)
            if item.is_remote:
                self.remote.append(item.id)
            if item.country:
                self.by_country[item.country].append(item.id)

    def __len__(self):
        return len(self.items)

    def recommend(self, profile: Profile, *, limit: int = 5) -> list[Pick]:
        """The best `limit` items for this profile, best first; fewer (or none) if few fit."""
        relevance: dict[int, float] = defaultdict(float)
        reasons: dict[int, list[str]] = defaultdict(list)

        def add(item_ids, points, reason):
            for item_id in item_ids:
                relevance[item_id] += points
                reasons[item_id].append(reason)

        for medium in sorted(profile.mediums):
            add(self.by_feature.get(f"medium:{medium}", ()), MEDIUM_MATCH, f"medium: {medium}")
        if profile.mediums:
            add(self.open_to_all_mediums, OPEN_TO_ALL_MEDIUMS, "open to all mediums")
        for interest in sorted(profile.interests):
            # "residency" may be a tag, the kind of opportunity, or both: it counts once.
            matches = set(self.by_feature.get(f"tag:{interest}", ()))
            matches.update(self.by_feature.get(f"kind:{interest}", ()))
            add(sorted(matches), INTEREST_MATCH, f"interest: {interest}")

        learned: dict[int, float] = defaultdict(float)
        learned_from: dict[int, list[str]] = defaultdict(list)
        for feature, clicks in sorted(profile.clicked.items()):
            weight = ENGAGEMENT_PER_FEATURE * min(clicks, ENGAGEMENT_SATURATION)
            weight /= ENGAGEMENT_SATURATION
            for item_id in self.by_feature.get(feature, ()):
                learned[item_id] += weight
                learned_from[item_id].append(feature.split(":", 1)[1])
        for item_id, points in learned.items():
            relevance[item_id] += min(points, ENGAGEMENT_CAP)
            reasons[item_id].append("like items you clicked: " + ", ".join(learned_from[item_id]))

        scored = []
        for item_id, points in relevance.items():
            item = self.items[item_id]
            if item_id in profile.already_sent or not self._eligible(item, profile):
                continue
            extra, extra_reasons = self._context_points(item, profile)
            key = (
                round(points + extra, 6),
                -(item.deadline.toordinal() if item.deadline else dt.date.max.toordinal()),
                -item_id,
            )
            scored.append((key, item_id, tuple(reasons[item_id] + extra_reasons)))
        best = heapq.nlargest(limit, scored)
        return [Pick(item_id=item_id, score=key[0], reasons=why) for key, item_id, why in best]

    def _eligible(self, item: Item, profile: Profile) -> bool:
        if item.eligible_countries and profile.country not in item.eligible_countries:
            return False
        if item.eligible_stages and profile.career_stage not in item.eligible_stages:
            return False
        return True

    def _context_points(self, item: Item, profile: Profile) -> tuple[float, list[str]]:
        points, reasons = 0.0, []
        if profile.country and item.country == profile.country:
            points += SAME_COUNTRY
            reasons.append(f"in your country ({item.country})")
        elif item.is_remote:
            points += REMOTE
            reasons.append("remote")
        days_left = (item.deadline - self.today).days if item.deadline else None
        deadline, why = deadline_points(days_left)
        return points + deadline, [*reasons, why]
