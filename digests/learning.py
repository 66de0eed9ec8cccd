"""What the digest learns from what artists were shown, clicked and said: rates, not counts.

For each artist and feature of an opportunity ("medium:video", "kind:residency",
"tag:ecology") the learner keeps clicks per impression. An impression is an item of a digest
the artist opened, weighted by its position (people read the top of an email first, so an
unclicked fifth item says less than an unclicked first one). "More like this" counts as
several clicks, "not for me" as several impressions without one.

Rates are compared with the artist's own overall rate, so an artist who clicks little is not
read as disliking everything, and an artist who never clicked has no rate of their own at
all: their digest follows their profile and what similar artists click, whatever they left
unopened or unclicked (silence is not a signal). A feature the artist saw a few times is
shrunk toward what artists with similar profiles (sharing a medium or an interest) do with
it, and that in turn toward everyone (empirical Bayes: a rate seen over few impressions
borrows the group's). The result is a lift per feature: 1 is "as usual", 2 "twice as often".
Nothing caps a lift below a profile match: what an artist keeps clicking can outrank what
their profile says, and what they keep ignoring sinks.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field

# Chance a reader looks at the item in this position of the email (1 = the top).
POSITION_WEIGHTS = (1.0, 0.85, 0.72, 0.62, 0.54)
MORE_LIKE_THIS_CLICKS = 3.0  # "more like this" counts as this many clicks
NOT_FOR_ME_IMPRESSIONS = 3.0  # "not for me": this many more impressions, and no click
ARTIST_PRIOR_IMPRESSIONS = 8.0  # an artist's own rate weighs like this many impressions...
GROUP_PRIOR_IMPRESSIONS = 50.0  # ...of the group's, and the group's like these of everyone's
# Lifts beyond these are clipped: past 4x (or a quarter) the evidence is rarely that strong.
MAX_LOG2_LIFT = 2.0
# Discovery tries what a group may like: the rate it could plausibly have (this many standard
# errors above the estimate), so a medium few of them were shown still gets its chance.
EXPLORATION_STANDARD_ERRORS = 1.0


def position_weight(position: int) -> float:
    return POSITION_WEIGHTS[min(max(position, 1), len(POSITION_WEIGHTS)) - 1]


def profile_groups(*, mediums, interests) -> frozenset[str]:
    """Artists sharing one of these are "similar": a stated medium or interest."""
    return frozenset({f"medium:{m}" for m in mediums} | {f"interest:{i}" for i in interests})


@dataclass
class Rates:
    """Position-weighted impressions and clicks, per feature and for whole items."""

    clicks: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    impressions: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    item_clicks: float = 0.0
    item_impressions: float = 0.0
    # Features of items the artist asked more of / said were not for them (for the reasons).
    more: set[str] = field(default_factory=set)
    less: set[str] = field(default_factory=set)

    def add(self, features, *, position: int, clicked: bool, feedback: str = "") -> None:
        seen = position_weight(position)
        clicks = 1.0 if clicked else 0.0
        if feedback == "more":
            clicks += MORE_LIKE_THIS_CLICKS
            self.more.update(features)
        elif feedback == "less":
            clicks, seen = 0.0, seen + NOT_FOR_ME_IMPRESSIONS
            self.less.update(features)
        self.item_clicks += clicks
        self.item_impressions += seen
        for feature in features:
            self.clicks[feature] += clicks
            self.impressions[feature] += seen

    def merge(self, other: "Rates") -> None:
        self.item_clicks += other.item_clicks
        self.item_impressions += other.item_impressions
        for feature, value in other.clicks.items():
            self.clicks[feature] += value
        for feature, value in other.impressions.items():
            self.impressions[feature] += value

    @property
    def has_signal(self) -> bool:
        return self.item_clicks > 0 or bool(self.less)


class TastePriors:
    """What groups of similar artists click, built once per run from everyone's history."""

    def __init__(self, by_group: dict[str, Rates]):
        self.by_group = by_group
        everyone = Rates()
        for rates in by_group.values():
            everyone.merge(rates)
        self.overall_rate = (
            everyone.item_clicks / everyone.item_impressions if everyone.item_impressions else 0.0
        )
        self._cache: dict[frozenset[str], tuple[float, dict, dict]] = {}
        self._group_cache: dict[str, tuple[float, dict, dict]] = {}
        self.features = set()
        for rates in by_group.values():
            self.features.update(rates.impressions)

    def for_groups(self, groups: frozenset[str]) -> tuple[float, dict, dict]:
        """(the groups' overall click rate, the lift per feature, the plausible upper lift per
        feature) for a profile's groups. Each group is read on its own and the strongest
        evidence per feature kept: pooling photographers with everyone who wants grants
        would drown what photographers click in what the larger group does."""
        if groups not in self._cache:
            known = [self._group(group) for group in sorted(groups) if group in self.by_group]
            lifts: dict[str, float] = {}
            upper: dict[str, float] = {}
            for _, group_lifts, group_upper in known:
                for feature, lift in group_lifts.items():
                    if abs(math.log2(lift)) > abs(math.log2(lifts.get(feature, 1.0))):
                        lifts[feature] = lift
                for feature, lift in group_upper.items():
                    upper[feature] = max(upper.get(feature, 0.0), lift)
            rates = [rate for rate, _, _ in known]
            rate = sum(rates) / len(rates) if rates else self.overall_rate
            self._cache[groups] = (rate, lifts, upper)
        return self._cache[groups]

    def _group(self, group: str) -> tuple[float, dict, dict]:
        if group not in self._group_cache:
            rates = self.by_group[group]
            rate = _shrunk(
                rates.item_clicks, rates.item_impressions, self.overall_rate,
                GROUP_PRIOR_IMPRESSIONS,
            )
            lifts, upper = {}, {}
            if rate > 0:
                for feature in self.features:
                    seen = rates.impressions.get(feature, 0.0) + GROUP_PRIOR_IMPRESSIONS
                    clicks = rates.clicks.get(feature, 0.0) + GROUP_PRIOR_IMPRESSIONS * rate
                    feature_rate = clicks / seen
                    lifts[feature] = feature_rate / rate
                    error = math.sqrt(feature_rate * (1 - min(feature_rate, 1.0)) / seen)
                    upper[feature] = (feature_rate + EXPLORATION_STANDARD_ERRORS * error) / rate
            self._group_cache[group] = (rate, lifts, upper)
        return self._group_cache[group]


def artist_lifts(rates: Rates, *, groups: frozenset[str], priors: TastePriors) -> dict[str, float]:
    """log2 of the lift per feature for one artist: 0 is as usual, +1 twice as often."""
    group_rate, group_lifts, _ = priors.for_groups(groups)
    lifts = dict(group_lifts)
    if rates.has_signal:
        own_rate = _shrunk(
            rates.item_clicks, rates.item_impressions, group_rate, ARTIST_PRIOR_IMPRESSIONS
        )
        for feature, seen in rates.impressions.items():
            prior = group_lifts.get(feature, 1.0) * own_rate
            feature_rate = _shrunk(rates.clicks[feature], seen, prior, ARTIST_PRIOR_IMPRESSIONS)
            lifts[feature] = feature_rate / own_rate
    return _log2(lifts)


def artist_exploration(
    lifts: dict[str, float], *, groups: frozenset[str], named: set[str], priors: TastePriors
) -> dict[str, float]:
    """log2 of the plausible upper lift of the mediums and kinds the profile does not name,
    for the discovery place; leaving out what the artist has been shown and ignores."""
    _, _, upper = priors.for_groups(groups)
    return _log2(
        {
            feature: lift
            for feature, lift in upper.items()
            if feature not in named
            and not feature.startswith("tag:")
            and lifts.get(feature, 0.0) >= 0
            and lift > 1
        }
    )


def _log2(lifts: dict[str, float]) -> dict[str, float]:
    return {
        feature: max(-MAX_LOG2_LIFT, min(MAX_LOG2_LIFT, math.log2(lift)))
        for feature, lift in lifts.items()
        if lift > 0 and abs(math.log2(lift)) >= 0.05
    }


def _shrunk(clicks: float, impressions: float, prior_rate: float, prior_weight: float) -> float:
    return (clicks + prior_weight * prior_rate) / (impressions + prior_weight)
