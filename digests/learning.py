"""What the digest learns from what artists were shown, clicked and said: rates, not counts.

For each artist and feature of an opportunity ("medium:video", "kind:residency",
"tag:ecology") the learner compares the clicks with the clicks expected. An impression is an
item of a digest the artist opened, weighted by its position (people read the top of an
email first, so an unclicked fifth item says less than an unclicked first one), and it is
expected to be clicked as often as items that fit the profile as well did (a medium named
or not, a kind named or not: the item's fit), over everyone. So a feature is not credited
with clicks its item earned by fitting the profile: an installation call shown to a
printmaker because it also names printmaking says little about installation.
"More like this" counts as several clicks, "not for me" as several impressions without one.

Each artist's lifts are relative to their own level, so an artist who clicks little is not
read as disliking everything, and an artist who never clicked has no lift of their own at
all: their digest follows their profile and what similar artists click, whatever they left
unopened or unclicked (silence is not a signal). A feature the artist saw a few times is
shrunk toward what artists with similar profiles (sharing a medium or an interest) do with
it, and that in turn toward "as usual" (empirical Bayes). The result is a lift per feature:
1 is "as usual", 2 "twice as often". Nothing caps a lift below a profile match: what an
artist keeps clicking can outrank what their profile says, and what they keep ignoring sinks.
"""

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field

# Chance a reader looks at the item in this position of the email (1 = the top).
POSITION_WEIGHTS = (1.0, 0.85, 0.72, 0.62, 0.54)
MORE_LIKE_THIS_CLICKS = 3.0  # "more like this" counts as this many clicks
NOT_FOR_ME_IMPRESSIONS = 3.0  # "not for me": this many more impressions, and no click
# Shrinkage, in expected clicks: an artist's own evidence weighs against the group's like
# this many expected clicks, and a group's against "as usual" like these.
ARTIST_PRIOR_CLICKS = 5.0
GROUP_PRIOR_CLICKS = 100.0
# Discovery draws what a group may like (Thompson sampling) from this much prior evidence.
EXPLORATION_PRIOR_CLICKS = 10.0
# Lifts beyond these are clipped: past 4x (or a quarter) the evidence is rarely that strong.
MAX_LOG2_LIFT = 2.0


def position_weight(position: int) -> float:
    return POSITION_WEIGHTS[min(max(position, 1), len(POSITION_WEIGHTS)) - 1]


def profile_groups(*, mediums, interests) -> frozenset[str]:
    """Artists sharing one of these are "similar": a stated medium or interest."""
    return frozenset({f"medium:{m}" for m in mediums} | {f"interest:{i}" for i in interests})


def profile_fit(features, *, mediums, interests) -> str:
    """How well an item fit the profile it was shown to: its medium and its kind named or not."""
    item_mediums = {f for f in features if f.startswith("medium:")}
    if not item_mediums:
        medium = "open"
    elif any(f"medium:{m}" in item_mediums for m in mediums):
        medium = "named"
    else:
        medium = "other"
    kind = "named" if any(f"kind:{i}" in features for i in interests) else "other"
    return f"{medium}/{kind}"


@dataclass
class Rates:
    """Position-weighted impressions (per profile fit) and clicks, per feature."""

    clicks: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    # (feature, fit) -> impressions; "" as the feature: whole items.
    impressions: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    item_clicks: float = 0.0
    fit_clicks: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    # Features of items the artist asked more of / said were not for them (for the reasons).
    more: set[str] = field(default_factory=set)
    less: set[str] = field(default_factory=set)

    def add(self, features, *, fit: str, position: int, clicked: bool, feedback: str = "") -> None:
        seen = position_weight(position)
        clicks = 1.0 if clicked else 0.0
        if feedback == "more":
            clicks += MORE_LIKE_THIS_CLICKS
            self.more.update(features)
        elif feedback == "less":
            clicks, seen = 0.0, seen + NOT_FOR_ME_IMPRESSIONS
            self.less.update(features)
        self.item_clicks += clicks
        self.fit_clicks[fit] += clicks
        self.impressions["", fit] += seen
        for feature in features:
            self.clicks[feature] += clicks
            self.impressions[feature, fit] += seen

    def expected(self, rate_of_fit: dict[str, float]) -> dict[str, float]:
        """Clicks expected per feature ("" for whole items) at everyone's rate per fit."""
        expected: dict[str, float] = defaultdict(float)
        for (feature, fit), seen in self.impressions.items():
            expected[feature] += seen * rate_of_fit.get(fit, 0.0)
        return expected

    @property
    def has_signal(self) -> bool:
        return self.item_clicks > 0 or bool(self.less)


class TastePriors:
    """What groups of similar artists click, built once per run from everyone's history."""

    def __init__(self, by_group: dict[str, Rates]):
        self.by_group = by_group
        clicks: dict[str, float] = defaultdict(float)
        seen: dict[str, float] = defaultdict(float)
        self.features: set[str] = set()
        for rates in by_group.values():
            for fit, value in rates.fit_clicks.items():
                clicks[fit] += value
            for (feature, fit), value in rates.impressions.items():
                if feature:
                    self.features.add(feature)
                else:
                    seen[fit] += value
        # Everyone's clicks per impression, for each way an item can fit a profile.
        self.rate_of_fit = {fit: clicks[fit] / value for fit, value in seen.items() if value}
        self._cache: dict[frozenset[str], dict[str, float]] = {}
        self._expected: dict[str, dict[str, float]] = {}

    def _group_expected(self, group: str) -> dict[str, float]:
        if group not in self._expected:
            self._expected[group] = self.by_group[group].expected(self.rate_of_fit)
        return self._expected[group]

    def _groups_clicks_and_expected(
        self, groups: frozenset[str]
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Clicks and expected clicks per feature, summed over the groups that have history."""
        clicks: dict[str, float] = defaultdict(float)
        expected: dict[str, float] = defaultdict(float)
        for group in groups & self.by_group.keys():
            for feature, value in self.by_group[group].clicks.items():
                clicks[feature] += value
            for feature, value in self._group_expected(group).items():
                expected[feature] += value
        return clicks, expected

    def for_groups(self, groups: frozenset[str]) -> dict[str, float]:
        """The lift per feature among artists sharing a medium or an interest with the
        profile: their clicks over the clicks expected from how well the items fit them."""
        if groups not in self._cache:
            clicks, expected = self._groups_clicks_and_expected(groups)
            self._cache[groups] = {
                feature: (clicks[feature] + GROUP_PRIOR_CLICKS) / (value + GROUP_PRIOR_CLICKS)
                for feature, value in expected.items()
                if feature
            }
        return self._cache[groups]

    def sampled_lifts(
        self, groups: frozenset[str], features, *, chance: random.Random
    ) -> dict[str, float]:
        """For each feature, a lift drawn from what the artist's groups plausibly click
        (Thompson sampling from the Gamma posterior of clicks over expected clicks): little
        tried features get wide draws, so different artists of a group try different ones
        and the group learns them all."""
        clicks, expected = self._groups_clicks_and_expected(groups)
        if not any(self.rate_of_fit.values()):
            return {}  # nobody clicked anything yet: nothing to draw from
        prior = EXPLORATION_PRIOR_CLICKS
        return {
            feature: chance.gammavariate(clicks[feature] + prior, 1.0 / (expected[feature] + prior))
            for feature in features
        }


def artist_lifts(rates: Rates, *, groups: frozenset[str], priors: TastePriors) -> dict[str, float]:
    """log2 of the lift per feature for one artist: 0 is as usual, +1 twice as often."""
    group_lifts = priors.for_groups(groups)
    lifts = dict(group_lifts)
    if rates.has_signal:
        expected = rates.expected(priors.rate_of_fit)
        # The artist's own level: clicks over expected, over everything they were shown.
        level = (rates.item_clicks + ARTIST_PRIOR_CLICKS) / (expected[""] + ARTIST_PRIOR_CLICKS)
        for feature, value in expected.items():
            if not feature:
                continue
            prior = group_lifts.get(feature, 1.0)
            lifts[feature] = (rates.clicks[feature] + ARTIST_PRIOR_CLICKS * prior) / (
                value * level + ARTIST_PRIOR_CLICKS
            )
    return _log2(lifts)


def artist_exploration(
    lifts: dict[str, float],
    *,
    groups: frozenset[str],
    named: set[str],
    priors: TastePriors,
    chance: random.Random,
) -> dict[str, float]:
    """log2 of a drawn lift (TastePriors.sampled_lifts) for each medium and kind the profile
    does not name, for the discovery place; leaving out what the artist was shown and ignores.
    `chance` is seeded per artist and week, so a run repeated gives the same digest."""
    unnamed = sorted(
        feature
        for feature in priors.features
        if feature not in named
        and feature.split(":", 1)[0] in ("medium", "kind")
        and lifts.get(feature, 0) >= 0
    )
    drawn = priors.sampled_lifts(groups, unnamed, chance=chance)
    return _log2({feature: lift for feature, lift in drawn.items() if lift > 1})


def _log2(lifts: dict[str, float]) -> dict[str, float]:
    return {
        feature: max(-MAX_LOG2_LIFT, min(MAX_LOG2_LIFT, math.log2(lift)))
        for feature, lift in lifts.items()
        if lift > 0 and abs(math.log2(lift)) >= 0.05
    }
