"""The digest recommender: ranks open opportunities for an artist.

Works on plain values, not model instances, so one catalogue built per run (one query) scores
every user of the batch in memory. Scoring is indexed: each user only touches the
opportunities that share a medium, a tag or a learned feature with them (postings of an
inverted index), never the whole catalogue.

The score is a sum of named parts so the admin can show why an item was picked:
- profile fit: mediums, interests (tags and the kind of opportunity), location;
- learned: per medium, kind and tag, how much more (or less) often than usual this artist
  and artists with similar profiles click it (digests.learning), including "more like this"
  and "not for me". Not capped: what an artist keeps clicking can outrank the profile;
- discovery: one place in the digest goes to a medium or kind the artist has not named but
  where they or similar artists click more than usual, labelled "you might also like";
- deadline: soon but not too soon is best; too close to apply is excluded.
Once anyone has clicked, a profile carries a Taste (digests.learning): mediums and kinds are then
scored by the clicks an item is expected to earn under the chance the artist likes each, and the
last places go to a taste drawn from that posterior (see Catalogue._recommend_by_taste).
Ties break by earlier deadline, then lower id, so the same data always gives the same digest.
"""

import datetime as dt
import functools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from digests.learning import Taste

MEDIUM_MATCH = 3.0  # per medium shared with the profile
OPEN_TO_ALL_MEDIUMS = 1.0  # the opportunity names no medium: any artist may apply
INTEREST_MATCH = 2.0  # per interest that is one of the opportunity's tags or its kind
SAME_COUNTRY = 1.5
REMOTE = 1.0
# Per doubling of the click rate on a medium or kind: as much as a profile match, so a
# medium clicked twice as often as usual weighs like one named in the profile.
LEARNED_PER_DOUBLING = MEDIUM_MATCH
# A sure fit on both counts (medium and kind liked) earns as many points as a medium and an
# interest named, when mediums and kinds are scored by the artist's Taste.
TASTE_POINTS = MEDIUM_MATCH + INTEREST_MATCH
TRIED_PLACES = 2  # of a digest scored by Taste: the best under a taste drawn from it
TAG_SHARE = 0.25  # tags say less about an opportunity than its medium or kind
DISCOVERY_SLOTS = 1  # of each digest of at least DISCOVERY_MIN_LIMIT items
DISCOVERY_MIN_LIMIT = 3
YOU_MIGHT_ALSO_LIKE = "you might also like"

MIN_DAYS_LEFT = 3  # fewer days than this is too late to prepare an application

EMPTY_ROWS = np.array([], dtype=np.int64)


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
    def features(self) -> frozenset[str]:
        return _item_features(self.mediums, self.tags, self.kind)


@dataclass(frozen=True)
class Profile:
    """An artist as the recommender sees them."""

    user_id: int
    mediums: frozenset[str] = frozenset()
    interests: frozenset[str] = frozenset()
    country: str = ""
    career_stage: str = ""
    # log2 of the learned lift per feature ("medium:video", "kind:residency", "tag:ecology"):
    # +1 is clicked twice as often as usual (digests.learning.artist_lifts).
    lifts: dict[str, float] = field(default_factory=dict)
    # log2 of the plausible upper lift of mediums and kinds the profile does not name, where
    # similar artists may click: what the discovery place tries (digests.learning).
    explore: dict[str, float] = field(default_factory=dict)
    # Features of items the artist asked "more like this" of / said were "not for me".
    more: frozenset[str] = frozenset()
    less: frozenset[str] = frozenset()
    # Opportunities already sent in earlier digests: never sent again.
    already_sent: frozenset[int] = frozenset()
    # The chance the artist likes each medium and kind (digests.learning.Taste): when set,
    # mediums and kinds are scored by the clicks an item is expected to earn under it.
    taste: Taste | None = None

    @property
    def named(self) -> frozenset[str]:
        return _named_features(self.mediums, self.interests)


def named_features(*, mediums, interests) -> set[str]:
    """The features a profile itself asks for."""
    return (
        {f"medium:{m}" for m in mediums}
        | {f"kind:{i}" for i in interests}
        | {f"tag:{i}" for i in interests}
    )


# Cached: a run asks for the same items' and profiles' features for every pick it explains
# (profiles mostly differ: only the recent ones are kept).
@functools.lru_cache(maxsize=8192)
def _item_features(mediums: frozenset, tags: frozenset, kind: str) -> frozenset[str]:
    return frozenset(
        {f"medium:{m}" for m in mediums}
        | {f"tag:{t}" for t in tags}
        | ({f"kind:{kind}"} if kind else set())
    )


@functools.lru_cache(maxsize=1024)
def _named_features(mediums: frozenset, interests: frozenset) -> frozenset[str]:
    return frozenset(named_features(mediums=mediums, interests=interests))


class _ItemWords(NamedTuple):
    """What Catalogue.reasons says of an item whatever the profile."""

    item: Item
    mediums: tuple[tuple[str, str], ...]  # (medium, "medium: <medium>"), by medium
    labelled: tuple[tuple[str, str], ...]  # (feature, its _label), by label
    deadline: str


def _by_label(labelled: tuple[str, str]) -> tuple[str, str]:
    feature, label = labelled
    return label, feature


@dataclass(frozen=True)
class Pick:
    item_id: int
    score: float
    reasons: tuple[str, ...]
    discovery: bool = False  # "you might also like": a medium or kind the profile does not name


class Catalogue:
    """The open opportunities of one run, indexed for scoring many profiles.

    Scores live in NumPy arrays, one slot per item: a profile adds its points through the
    posting lists of its mediums, interests and clicks, so the cost per user is a handful of
    array operations, not a Python loop over the catalogue. Reasons are worked out only for
    the few items picked.
    """

    def __init__(self, items, *, today: dt.date):
        self.today = today
        kept = sorted(
            (
                item
                for item in items
                if item.deadline is None or (item.deadline - today).days >= MIN_DAYS_LEFT
            ),
            key=lambda item: item.id,
        )
        self.items: list[Item] = kept
        self.row_of = {item.id: row for row, item in enumerate(kept)}
        self.ids = np.array([item.id for item in kept], dtype=np.int64)
        self.deadline_order = np.array(
            [(item.deadline or dt.date.max).toordinal() for item in kept], dtype=np.int64
        )
        self.deadline_points = np.array(
            [deadline_points(self._days_left(item))[0] for item in kept], dtype=np.float64
        )
        self.remote = np.array([item.is_remote for item in kept], dtype=bool)
        self.country = np.array([item.country for item in kept], dtype=object)
        postings: dict[str, list[int]] = defaultdict(list)
        for row, item in enumerate(kept):
            for feature in item.features:
                postings[feature].append(row)
        self.postings = {feature: np.array(rows) for feature, rows in postings.items()}
        self.open_to_all_mediums = np.array(
            [row for row, item in enumerate(kept) if not item.mediums], dtype=np.int64
        )
        self._restricted_countries = [
            (row, item.eligible_countries)
            for row, item in enumerate(kept)
            if item.eligible_countries
        ]
        self._restricted_stages = [
            (row, item.eligible_stages) for row, item in enumerate(kept) if item.eligible_stages
        ]
        self._ineligible_cache: dict[tuple[str, str], np.ndarray] = {}
        self._place_cache: dict[str, np.ndarray] = {}
        self._interest_cache: dict[str, np.ndarray] = {}
        self._deadline_reasons: dict[dt.date | None, str] = {}
        self._words: dict[int, _ItemWords] = {}

    def __len__(self):
        return len(self.items)

    def _days_left(self, item: Item) -> int | None:
        return (item.deadline - self.today).days if item.deadline else None

    def _posting(self, feature: str) -> np.ndarray:
        return self.postings.get(feature, EMPTY_ROWS)

    def _interest_rows(self, interest: str) -> np.ndarray:
        if interest not in self._interest_cache:
            # "residency" may be a tag, the kind of opportunity, or both: it counts once.
            self._interest_cache[interest] = np.union1d(
                self._posting(f"tag:{interest}"), self._posting(f"kind:{interest}")
            )
        return self._interest_cache[interest]

    def _ineligible(self, country: str, stage: str) -> np.ndarray:
        key = (country, stage)
        if key not in self._ineligible_cache:
            rows = [row for row, allowed in self._restricted_countries if country not in allowed]
            rows += [row for row, allowed in self._restricted_stages if stage not in allowed]
            self._ineligible_cache[key] = np.array(sorted(set(rows)), dtype=np.int64)
        return self._ineligible_cache[key]

    def _place_points(self, country: str) -> np.ndarray:
        """Per item, the points for where it is: in the artist's country, else remote."""
        if country not in self._place_cache:
            same_country = (
                self.country == country if country else np.zeros(len(self.items), dtype=bool)
            )
            self._place_cache[country] = np.where(
                same_country, SAME_COUNTRY, np.where(self.remote, REMOTE, 0.0)
            )
        return self._place_cache[country]

    def recommend(self, profile: Profile, *, limit: int = 5) -> list[Pick]:
        """The best `limit` items for this profile, best first; fewer (or none) if few fit."""
        if not self.items:
            return []
        if profile.taste is not None:
            return self._recommend_by_taste(profile, limit=limit)
        relevance = np.zeros(len(self.items))
        for medium in profile.mediums:
            relevance[self._posting(f"medium:{medium}")] += MEDIUM_MATCH
        if profile.mediums:
            relevance[self.open_to_all_mediums] += OPEN_TO_ALL_MEDIUMS
        for interest in profile.interests:
            relevance[self._interest_rows(interest)] += INTEREST_MATCH
        learned = np.zeros(len(self.items))
        for feature, log_lift in profile.lifts.items():
            points = LEARNED_PER_DOUBLING * log_lift
            if feature.startswith("tag:"):
                points *= TAG_SHARE
            learned[self._posting(feature)] += points
        explore = np.zeros(len(self.items))
        for feature, log_lift in profile.explore.items():
            explore[self._posting(feature)] += LEARNED_PER_DOUBLING * log_lift
        relevance += learned

        candidate = (relevance > 0) | (explore > 0)
        rows, score, order = self._ranked(profile, candidate, relevance, limit)
        if rows.size == 0:
            return []
        unnamed = self._discoveries(profile)
        if limit >= DISCOVERY_MIN_LIMIT and not any(unnamed[rows[i]] for i in order):
            # No room was made by the ranking itself: the last place goes to the best item
            # of a medium or kind the artist has not named where clicks are above usual.
            # Scored by what similar artists plausibly click there, so a neighbouring medium
            # few of them were shown gets its chance.
            extra = unnamed[rows]
            keep = limit - DISCOVERY_SLOTS
            if extra.any() and len(order) > keep:
                tried = score[extra] + explore[rows][extra]
                best = self._best(rows[extra], tried, DISCOVERY_SLOTS)
                # Only when what it may be worth beats the place's own pick: a guess with
                # little behind it does not push out a good fit.
                if tried[best[0]] >= score[order[keep]]:
                    order = [*order[:keep], *np.flatnonzero(extra)[best]]
        return [
            Pick(
                item_id=int(self.ids[rows[i]]),
                score=float(score[i]),
                reasons=self.reasons(
                    self.items[rows[i]], profile, discovery=bool(unnamed[rows[i]])
                ),
                discovery=bool(unnamed[rows[i]]),
            )
            for i in order
        ]

    def _expected_rate(self, taste: Taste) -> np.ndarray:
        """Per item, the clicks per look it is expected to earn under the artist's Taste."""
        rates = taste.rates
        # Per item, the rate if its medium is liked and if it is not, by the chance its kind
        # is liked. A taste naming no kind likes every kind (chance 1): the rates are then
        # the liked-kind ones as they are, the same numbers the sum with 1 and 0 gives.
        if taste.kinds:
            kind = np.zeros(len(self.items))
            for feature, chance in taste.kinds.items():
                if chance:  # an item has one kind: a chance of 0 leaves its 0
                    kind[self._posting(feature)] = chance
            not_kind = 1 - kind
            liked = kind * rates["named/named"] + not_kind * rates["named/other"]
            other = kind * rates["other/named"] + not_kind * rates["other/other"]
            open_rows = self.open_to_all_mediums
            opened = (
                kind[open_rows] * rates["open/named"] + not_kind[open_rows] * rates["open/other"]
            )
        else:
            liked, other, opened = rates["named/named"], rates["other/named"], rates["open/named"]
        if taste.mediums:
            missed = np.ones(len(self.items))
            for feature, chance in taste.mediums.items():
                # A drawn taste's chances are 1 or 0: times 1 - 1 is 0 (set, cheaper than
                # multiplied; 1 - missed is 1 either way), times 1 - 0 leaves it as it is.
                if chance == 1:
                    missed[self._posting(feature)] = 0.0
                elif chance:
                    missed[self._posting(feature)] *= 1 - chance
            # medium * liked + (1 - medium) * other, with two arrays instead of five: fresh
            # arrays cost more than the arithmetic at this size (the first touch of memory).
            medium = np.subtract(1, missed, out=missed)
            rest = 1 - medium
            rest *= other
            rate = np.multiply(medium, liked, out=medium)
            rate += rest
        else:
            # Every medium is liked (chance 1): liked * 1 + other * 0 is liked.
            rate = np.empty(len(self.items))
            rate[:] = liked
        rate[self.open_to_all_mediums] = opened
        return rate

    def _recommend_by_taste(self, profile: Profile, *, limit: int) -> list[Pick]:
        """Mediums and kinds scored by expected clicks (a sure fit on both counts weighs like a
        medium and an interest named); tags, location and deadline as in the profile score."""
        taste = profile.taste
        full_fit = taste.rates["named/named"]
        # In place, the same floats as TASTE_POINTS * rate / full_fit.
        relevance = self._expected_rate(taste)
        relevance *= TASTE_POINTS
        relevance /= full_fit
        # Candidates: what shares a medium, a kind or a tag with the taste or the profile,
        # and calls open to all mediums (as for the profile score), however low their rate.
        candidate = np.zeros(len(self.items), dtype=bool)
        for feature in (*taste.mediums, *taste.kinds):
            candidate[self._posting(feature)] = True
        candidate[self.open_to_all_mediums] = True
        # np.add.at: the same sums as relevance[rows] += points, without the two temporary
        # arrays (some 6 tags a profile).
        for interest in profile.interests:
            tagged = self._posting(f"tag:{interest}")
            np.add.at(relevance, tagged, INTEREST_MATCH * TAG_SHARE)
            candidate[tagged] = True
        for feature, log_lift in profile.lifts.items():
            if feature.startswith("tag:"):
                points = LEARNED_PER_DOUBLING * TAG_SHARE * log_lift
                np.add.at(relevance, self._posting(feature), points)
        rows, score, order = self._ranked(profile, candidate, relevance, limit)
        if rows.size == 0:
            return []
        if taste.drawn and limit > TRIED_PLACES:
            # The last places go to the best items under a taste drawn from the posterior:
            # where the artist's doubt is real, they see what would settle it.
            drawn = Taste(
                mediums={f: q for f, q in taste.drawn.items() if f.startswith("medium:")}
                if taste.mediums
                else {},
                kinds={f: q for f, q in taste.drawn.items() if f.startswith("kind:")}
                if taste.kinds
                else {},
                rates=taste.rates,
                prior=taste.prior,
            )
            # In place, in this order, the same floats as
            # TASTE_POINTS * rate / full_fit + score - relevance.
            tried = self._expected_rate(drawn)[rows]
            tried *= TASTE_POINTS
            tried /= full_fit
            tried += score
            tried -= relevance[rows]
            tried.round(6, out=tried)
            keep = order[: limit - TRIED_PLACES]
            tried[keep] = -np.inf
            order = keep + [i for i in self._best(rows, tried, TRIED_PLACES) if i not in keep]
        # A profile none of whose interests is a kind in the catalogue names no kind: every
        # kind is theirs, so no kind makes an item a discovery for it.
        names_a_kind = any(f"kind:{i}" in self.postings for i in profile.interests)
        picks = []
        for i in order:
            item = self.items[rows[i]]
            discovery = self._unnamed(item, profile, names_a_kind=names_a_kind)
            picks.append(
                Pick(
                    item_id=item.id,
                    score=float(score[i]),
                    reasons=self.reasons(item, profile, discovery=discovery),
                    discovery=discovery,
                )
            )
        return picks

    def _unnamed(self, item: Item, profile: Profile, *, names_a_kind: bool) -> bool:
        """Whether the item is of a medium, or of a kind, the profile does not name (a call
        open to all mediums names none): what the digest labels "you might also like".
        Asked of the few items picked, not of the whole catalogue."""
        if profile.mediums and item.mediums and profile.mediums.isdisjoint(item.mediums):
            return True
        return names_a_kind and bool(item.kind) and item.kind not in profile.interests

    def _discoveries(self, profile: Profile) -> np.ndarray:
        """Items whose medium, or whose kind, the profile does not name (a call open to all
        mediums is no discovery) where the artist or similar artists click above usual."""
        unnamed = np.zeros(len(self.items), dtype=bool)
        promising = {f for f, lift in profile.lifts.items() if lift > 0} | set(profile.explore)
        promising -= profile.named
        kinds_named = [i for i in profile.interests if f"kind:{i}" in self.postings]
        for dimension, theirs in (
            ("medium", [f"medium:{m}" for m in profile.mediums]),
            ("kind", [f"kind:{k}" for k in kinds_named] if kinds_named else None),
        ):
            if theirs is None:
                continue  # a profile naming no kind: every kind is theirs
            names_theirs = np.zeros(len(self.items), dtype=bool)
            for feature in theirs:
                names_theirs[self._posting(feature)] = True
            if dimension == "medium":
                names_theirs[self.open_to_all_mediums] = True
            hopeful = np.zeros(len(self.items), dtype=bool)
            for feature in promising:
                if feature.startswith(f"{dimension}:"):
                    hopeful[self._posting(feature)] = True
            unnamed |= hopeful & ~names_theirs
        return unnamed

    def _ranked(self, profile: Profile, candidate, relevance, limit: int):
        """The candidate rows the artist may get (eligible, never sent before), their scores
        (relevance, deadline, place) and the order of the best `limit` of them."""
        candidate[self._ineligible(profile.country, profile.career_stage)] = False
        if profile.already_sent:
            rows_sent = map(self.row_of.get, profile.already_sent)  # None: no longer open
            sent_rows = [row for row in rows_sent if row is not None]
            candidate[sent_rows] = False
        rows = candidate.nonzero()[0]
        if rows.size == 0:
            return rows, None, []
        # Over the whole catalogue (adding is cheaper than gathering), in this order: the
        # same floats as the sum over the rows.
        score = relevance + self.deadline_points
        score += self._place_points(profile.country)
        score = score[rows]
        score.round(6, out=score)
        return rows, score, self._best(rows, score, limit)

    def _best(self, rows: np.ndarray, score: np.ndarray, limit: int) -> list[int]:
        """Indexes into `rows` of the best `limit`: best score first, then the earlier
        deadline, then the lower id, so the same data always gives the same digest."""
        if 0 < limit < rows.size:
            # Only rows scoring at least the limit-th best score can be picked: sort just those.
            kth = _kth_best(score, limit)
            keep = (score >= kth).nonzero()[0]
        else:
            keep = np.arange(rows.size)
        kept_rows = rows[keep]
        order = np.lexsort((self.ids[kept_rows], self.deadline_order[kept_rows], -score[keep]))
        return keep[order[:limit]].tolist()

    def reasons(self, item: Item, profile: Profile, *, discovery=False) -> tuple[str, ...]:
        """Why `item` scored for `profile`, in words, in the order the points were added."""
        words = self._words_of(item)
        # Plain loops: a comprehension is a function call of its own, on 50,000 picks a run.
        why = []
        for medium, said in words.mediums:
            if medium in profile.mediums:
                why.append(said)
        if profile.mediums and not item.mediums:
            why.append("open to all mediums")
        for i in sorted(profile.interests):
            if i in item.tags or i == item.kind:
                why.append(f"interest: {i}")
        # words.labelled is in the order of the labels: each list below comes out sorted.
        if discovery:  # only a discovery says what is new in it
            named = profile.named
            unnamed = [
                label
                for f, label in words.labelled
                if f not in named
                and (profile.lifts.get(f, 0) > 0 or profile.explore.get(f, 0) > 0)
                and not f.startswith("tag:")
            ]
            if unnamed:
                why.insert(0, f"{YOU_MIGHT_ALSO_LIKE}: {', '.join(unnamed)}")
        if profile.more:
            more = [label for f, label in words.labelled if f in profile.more]
            if more:
                why.append("you asked for more like: " + ", ".join(more))
        if profile.less:
            less = [label for f, label in words.labelled if f in profile.less]
            if less:
                why.append("you said not for me: " + ", ".join(less))
        up, down = [], []
        lifts = profile.lifts
        for feature, label in words.labelled:
            lift = lifts.get(feature, 0)
            if lift > 0:
                up.append(label)
            elif lift < 0:
                down.append(label)
        if up:
            why.append("clicked more than usual (by you or artists like you): " + ", ".join(up))
        if down:
            why.append("clicked less than usual: " + ", ".join(down))
        if profile.country and item.country == profile.country:
            why.append(f"in your country ({item.country})")
        elif item.is_remote:
            why.append("remote")
        why.append(words.deadline)
        return tuple(why)

    def _words_of(self, item: Item) -> "_ItemWords":
        # Cached per item (at most one per open opportunity): a run explains its few
        # hundred picked items again for every reader who gets them.
        words = self._words.get(item.id)
        if words is None or words.item is not item:
            words = self._words[item.id] = _ItemWords(
                item=item,
                mediums=tuple((m, f"medium: {m}") for m in sorted(item.mediums)),
                labelled=tuple(sorted(((f, _label(f)) for f in item.features), key=_by_label)),
                deadline=self._deadline_reason(item.deadline),
            )
        return words

    def _deadline_reason(self, deadline: dt.date | None) -> str:
        # Cached: many picks of a run share a deadline.
        if deadline not in self._deadline_reasons:
            days_left = (deadline - self.today).days if deadline else None
            self._deadline_reasons[deadline] = deadline_points(days_left)[1]
        return self._deadline_reasons[deadline]


KTH_SAMPLE_STEP = 8  # _kth_best narrows by every 8th score first


def _kth_best(score: np.ndarray, k: int) -> float:
    """The k-th highest of `score` (0 < k < its size): the value of
    np.partition(score, score.size - k)[score.size - k].

    A full partition of a digest's thousand-odd candidates (their scores many-way tied) was
    most of the ranking's cost. The k-th best of every 8th score is a lower bound of the k-th
    best of all (those k scores are among all of them), so only the scores at or above it,
    a few dozen, are partitioned: the same value, about twice as fast."""
    sample = score[::KTH_SAMPLE_STEP]
    if sample.size >= k:
        bound = np.partition(sample, sample.size - k)[sample.size - k]
        # Not `score >= bound`: numpy sorts NaN last (highest), so with NaNs the bound may be
        # NaN; this keeps the NaNs, and every score when the bound is one, as the full
        # partition would see them.
        score = score[~(score < bound)]
    return np.partition(score, score.size - k)[score.size - k]


# Cached: a run labels the same few dozen features in every digest.
@functools.lru_cache(maxsize=1024)
def _label(feature: str) -> str:
    return feature.split(":", 1)[1].replace("_", " ")
