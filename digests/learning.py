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

import functools
import heapq
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

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
# Group lifts kept per run (TastePriors.for_groups): about a batch of the digest's profiles.
GROUP_LIFTS_KEPT = 1024


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
    # Each item seen, for the artist's own posterior (Taste): (features, position weight,
    # clicks, extra looks without a click). Kept only where asked (per artist, not per group).
    seen: list | None = None
    # Features of items the artist asked more of / said were not for them (for the reasons).
    more: set[str] = field(default_factory=set)
    less: set[str] = field(default_factory=set)
    # Impressions are kept for whole items and the features starting with this (all: "").
    # An artist's own looks are read only by artist_lifts, with one prefix per run.
    looks_kept: str = ""

    def add(self, features, *, fit: str, position: int, clicked: bool, feedback: str = "") -> None:
        """One item the artist (or the group) was shown: `features` of its opportunity, how
        it `fit` the profile, its position in the email, and what the artist did with it."""
        # Its position-weighted looks and its clicks; `extra`: looks without a click.
        weight = position_weight(position)
        seen, clicks, extra = weight, 1.0 if clicked else 0.0, 0.0
        if feedback == "more":
            clicks += MORE_LIKE_THIS_CLICKS
            self.more.update(features)
        elif feedback == "less":
            clicks, extra = 0.0, NOT_FOR_ME_IMPRESSIONS
            seen += extra
            self.less.update(features)
        self.item_clicks += clicks
        self.fit_clicks[fit] += clicks
        impressions, kept = self.impressions, self.looks_kept
        impressions["", fit] += seen
        for feature in features:
            if feature.startswith(kept):
                impressions[feature, fit] += seen
        if clicks:
            # Most items are not clicked: a feature never clicked is missing, and reads as 0.
            feature_clicks = self.clicks
            for feature in features:
                feature_clicks[feature] += clicks
        if self.seen is not None:
            self.seen.append((tuple(features), weight, clicks, extra))

    def expected(self, rate_of_fit: dict[str, float], *, prefix: str = "") -> dict[str, float]:
        """Clicks expected per feature ("" for whole items, and the features starting with
        `prefix`) at everyone's rate per fit."""
        expected: dict[str, float] = defaultdict(float)
        for (feature, fit), seen in self.impressions.items():
            if not feature or feature.startswith(prefix):
                expected[feature] += seen * rate_of_fit.get(fit, 0.0)
        return expected

    @property
    def has_signal(self) -> bool:
        return self.item_clicks > 0 or bool(self.less)


# The ways an item can fit a profile (profile_fit): its medium named, not, or none named (a
# call open to all mediums); its kind named or not.
FIT_IDS = {
    f"{medium}/{kind}": i
    for i, (medium, kind) in enumerate(
        (medium, kind) for medium in ("named", "other", "open") for kind in ("named", "other")
    )
}
# (item, group, feature) triples summed at once by rates_by_group: bounds its arrays.
CELLS_PER_SUM = 250_000


def rates_by_group(
    items, *, groups_of: dict, features_of: dict, cells_per_sum: int = CELLS_PER_SUM
) -> dict[str, Rates]:
    """The Rates of every profile group: each seen item added to every group of the artist
    shown it, as Rates.add adds it, but summed in arrays. A run reads every item of the
    learning window, and each adds to every group of its artist times every feature of its
    opportunity: a dictionary update each took 1.2 s per 140,000 items.

    `items`: (artist, opportunity, fit, position, clicked, feedback); `groups_of[artist]` and
    `features_of[opportunity]` as Rates.add is given them. Each sum adds its items in the
    order given, as the loop did. The "more like this" and "not for me" feature sets are not
    kept: only an artist's own Rates use them.
    """
    group_names = sorted({group for groups in groups_of.values() for group in groups})
    feature_names = ["", *sorted({f for features in features_of.values() for f in features})]
    group_ids = {group: i for i, group in enumerate(group_names)}
    feature_ids = {feature: i for i, feature in enumerate(feature_names)}
    # Each artist's groups and each opportunity's features ("" first: the whole item) as a
    # run of ids in one flat list, found by (first, count).
    groups_flat: list[int] = []
    features_flat: list[int] = []
    group_runs: dict = {}
    feature_runs: dict = {}
    sums = _GroupSums(groups=len(group_names), features=len(feature_names))
    chunk = _SeenChunk()
    for user_id, opportunity_id, fit, position, clicked, feedback in items:
        if user_id not in group_runs:
            group_runs[user_id] = (len(groups_flat), len(groups_of[user_id]))
            groups_flat.extend(group_ids[group] for group in groups_of[user_id])
        if opportunity_id not in feature_runs:
            features = features_of[opportunity_id]
            feature_runs[opportunity_id] = (len(features_flat), len(features) + 1)
            features_flat.append(0)
            features_flat.extend(feature_ids[feature] for feature in features)
        chunk.append(
            group_runs[user_id], feature_runs[opportunity_id], fit, position, clicked, feedback
        )
        if chunk.cells >= cells_per_sum:
            sums.add(chunk, groups=groups_flat, features=features_flat)
            chunk = _SeenChunk()
    sums.add(chunk, groups=groups_flat, features=features_flat)
    return sums.rates(groups=group_names, features=feature_names)


_MORE, _LESS = 1, 2  # a seen item's answer in _SeenChunk.feedback (0: none)


class _SeenChunk:
    """Seen items as columns, for _GroupSums.add; `cells`: the (group, feature) pairs they
    add to."""

    def __init__(self):
        self.group_runs, self.feature_runs, self.fits = [], [], []
        self.positions, self.clicked, self.feedback = [], [], []
        self.cells = 0

    def append(self, group_run, feature_run, fit, position, clicked, feedback) -> None:
        self.group_runs.append(group_run)
        self.feature_runs.append(feature_run)
        self.fits.append(FIT_IDS[fit])
        self.positions.append(position)
        self.clicked.append(clicked)
        self.feedback.append(_MORE if feedback == "more" else _LESS if feedback == "less" else 0)
        self.cells += group_run[1] * feature_run[1]


class _CellSlots:
    """A place for each (group, feature) cell met, in the order of their keys: the sums grow
    with the cells that occur, not with every group times every feature (free-text
    interests times scraped tags)."""

    def __init__(self):
        self.keys = np.zeros(0, dtype=np.int64)  # the cells met, sorted
        self.slots = np.zeros(0, dtype=np.int64)  # each one's place in the sums
        self.size = 0

    def of(self, keys: np.ndarray) -> np.ndarray:
        # After the first chunks nearly every cell is known: found by binary search, and only
        # the new ones sorted in.
        at = np.searchsorted(self.keys, keys)
        known = at < self.keys.size
        known[known] = self.keys[at[known]] == keys[known]
        if not known.all():
            new = np.unique(keys[~known])
            merged = np.concatenate([self.keys, new])
            order = np.argsort(merged, kind="stable")
            slots = np.arange(self.size, self.size + new.size)
            self.keys, self.slots = merged[order], np.concatenate([self.slots, slots])[order]
            self.size += new.size
            at = np.searchsorted(self.keys, keys)
        return self.slots[at]


class _GroupSums:
    """rates_by_group's running sums, per (group, feature) cell met: looks per fit, and
    clicks (feature 0, "": the group's clicks on whole items); and clicks per group and fit."""

    def __init__(self, *, groups: int, features: int):
        self.features = features
        self.cells = _CellSlots()
        self.looks = np.zeros((0, len(FIT_IDS)))
        self.clicks = np.zeros(0)
        self.fit_clicks = np.zeros((groups, len(FIT_IDS)))

    def add(self, chunk: _SeenChunk, *, groups: list[int], features: list[int]) -> None:
        if not chunk.cells:
            return  # no item, or only artists naming no medium and no interest (no group)
        group_first, group_count = np.array(chunk.group_runs, dtype=np.int64).T
        feature_first, feature_count = np.array(chunk.feature_runs, dtype=np.int64).T
        # Rates.add's looks and clicks of each item.
        weights = np.array(POSITION_WEIGHTS)
        seen = weights[np.clip(chunk.positions, 1, len(weights)) - 1]
        clicks = np.array(chunk.clicked, dtype=float)
        feedback = np.array(chunk.feedback, dtype=np.int8)
        clicks[feedback == _MORE] += MORE_LIKE_THIS_CLICKS
        less = feedback == _LESS
        clicks[less] = 0.0
        seen[less] += NOT_FOR_ME_IMPRESSIONS
        # Every (item, group, feature) in the loop's order: the item, each group of its
        # artist, each feature of its opportunity.
        per_item = group_count * feature_count
        item = np.repeat(np.arange(per_item.size), per_item)
        within = np.arange(per_item.sum()) - np.repeat(np.cumsum(per_item) - per_item, per_item)
        group = np.array(groups, dtype=np.int64)[group_first[item] + within // feature_count[item]]
        feature = np.array(features, dtype=np.int64)[
            feature_first[item] + within % feature_count[item]
        ]
        fit, seen, clicks = np.array(chunk.fits, dtype=np.int64)[item], seen[item], clicks[item]
        slot = self.cells.of(group * self.features + feature)
        if self.cells.size > self.clicks.size:
            grown = self.cells.size - self.clicks.size
            self.looks = np.concatenate([self.looks, np.zeros((grown, len(FIT_IDS)))])
            self.clicks = np.concatenate([self.clicks, np.zeros(grown)])
        # np.add.at adds one at a time in the order given: each sum is the loop's, bit for bit.
        np.add.at(self.looks, (slot, fit), seen)
        np.add.at(self.clicks, slot, clicks)
        whole = feature == 0
        np.add.at(self.fit_clicks, (group[whole], fit[whole]), clicks[whole])

    def rates(self, *, groups: list[str], features: list[str]) -> dict[str, Rates]:
        fits = list(FIT_IDS)
        by_group: dict[str, Rates] = {}
        for cell, slot in zip(self.cells.keys.tolist(), self.cells.slots.tolist(), strict=True):
            group, feature = divmod(cell, self.features)
            rates = by_group.setdefault(groups[group], Rates())
            looks = self.looks[slot]
            for fit in np.flatnonzero(looks).tolist():  # a look weighs at least 0.54
                rates.impressions[features[feature], fits[fit]] = float(looks[fit])
            if feature:
                if self.clicks[slot]:  # as Rates.add: a feature never clicked is missing
                    rates.clicks[features[feature]] = float(self.clicks[slot])
            else:
                rates.item_clicks = float(self.clicks[slot])
                for fit in np.flatnonzero(looks).tolist():
                    rates.fit_clicks[fits[fit]] = float(self.fit_clicks[group, fit])
        return by_group


class TastePriors:
    """What groups of similar artists click, built once per run from everyone's history."""

    def __init__(self, by_group: dict[str, Rates], *, opportunities: dict | None = None):
        self.by_group = by_group
        # What the run read of the opportunities seen in the window (digests.selectors), so
        # its batches do not read and decode them again.
        self.opportunities = opportunities or {}
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
        self.clicks_of_fit, self.looks_of_fit = dict(clicks), dict(seen)
        self._expected: dict[tuple[str, str], dict[str, float]] = {}
        self._clicks: dict[tuple[str, str], dict[str, float]] = {}
        # Artists' mediums and interests combine in tens of thousands of ways, nearly one per
        # artist: lifts kept for every combination grew with the run (100,000 users: +20 MB
        # of peak memory), so only the recent ones are kept. A plain dict: an lru_cache of a
        # bound method would tie the priors into a reference cycle, freed only by the
        # collector's full pass.
        self._lifts_of_groups: dict[tuple[frozenset[str], str], dict[str, float]] = {}

    def _group_expected(self, group: str, prefix: str) -> dict[str, float]:
        if (group, prefix) not in self._expected:
            if prefix:
                expected = self._group_expected(group, "")
                self._expected[group, prefix] = {
                    f: value for f, value in expected.items() if f.startswith(prefix)
                }
            else:
                self._expected[group, ""] = self.by_group[group].expected(self.rate_of_fit)
        return self._expected[group, prefix]

    def _group_clicks(self, group: str, prefix: str) -> dict[str, float]:
        if (group, prefix) not in self._clicks:
            clicks = self.by_group[group].clicks
            self._clicks[group, prefix] = {
                f: value for f, value in clicks.items() if f.startswith(prefix)
            }
        return self._clicks[group, prefix]

    def groups_clicks_and_expected(
        self, groups: frozenset[str], *, prefix: str = ""
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Clicks and expected clicks per feature (those starting with `prefix`), summed over
        the groups that have history."""
        clicks: dict[str, float] = defaultdict(float)
        expected: dict[str, float] = defaultdict(float)
        for group in groups & self.by_group.keys():
            for feature, value in self._group_clicks(group, prefix).items():
                clicks[feature] += value
            for feature, value in self._group_expected(group, prefix).items():
                expected[feature] += value
        return clicks, expected

    def for_groups(self, groups: frozenset[str], *, prefix: str = "") -> dict[str, float]:
        """The lift per feature (those starting with `prefix`) among artists sharing a medium
        or an interest with the profile: their clicks over the clicks expected from how well
        the items fit them."""
        # Only the groups with a history count: profiles differing in the others share lifts.
        key = (groups.intersection(self.by_group), prefix)
        if key not in self._lifts_of_groups:
            if len(self._lifts_of_groups) >= GROUP_LIFTS_KEPT:
                del self._lifts_of_groups[next(iter(self._lifts_of_groups))]  # the oldest
            self._lifts_of_groups[key] = self._groups_lifts(*key)
        return self._lifts_of_groups[key]

    def _groups_lifts(self, groups: frozenset[str], prefix: str) -> dict[str, float]:
        clicks, expected = self.groups_clicks_and_expected(groups, prefix=prefix)
        return {
            feature: (clicks[feature] + GROUP_PRIOR_CLICKS) / (value + GROUP_PRIOR_CLICKS)
            for feature, value in expected.items()
            if feature
        }

    def sampled_lifts(
        self, groups: frozenset[str], features, *, chance: random.Random
    ) -> dict[str, float]:
        """For each feature, a lift drawn from what the artist's groups plausibly click
        (Thompson sampling from the Gamma posterior of clicks over expected clicks): little
        tried features get wide draws, so different artists of a group try different ones
        and the group learns them all."""
        clicks, expected = self.groups_clicks_and_expected(groups)
        if not any(self.rate_of_fit.values()):
            return {}  # nobody clicked anything yet: nothing to draw from
        prior = EXPLORATION_PRIOR_CLICKS
        return {
            feature: chance.gammavariate(clicks[feature] + prior, 1.0 / (expected[feature] + prior))
            for feature in features
        }


def artist_lifts(
    rates: Rates, *, groups: frozenset[str], priors: TastePriors, prefix: str = ""
) -> dict[str, float]:
    """log2 of the lift per feature (those starting with `prefix`) for one artist: 0 is as
    usual, +1 twice as often."""
    group_lifts = priors.for_groups(groups, prefix=prefix)
    lifts = dict(group_lifts)
    if rates.has_signal:
        # Each feature's sum is its own: the others' are not worked out.
        expected = rates.expected(priors.rate_of_fit, prefix=prefix)
        # The artist's own level: clicks over expected, over everything they were shown.
        level = (rates.item_clicks + ARTIST_PRIOR_CLICKS) / (expected[""] + ARTIST_PRIOR_CLICKS)
        for feature, value in expected.items():
            if not feature or not feature.startswith(prefix):
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
    logs = {}
    for feature, lift in lifts.items():
        if lift > 0:
            log = math.log2(lift)  # once: every artist's lifts pass here
            if abs(log) >= 0.05:
                logs[feature] = max(-MAX_LOG2_LIFT, min(MAX_LOG2_LIFT, log))
    return logs


# --- The taste model: what each artist likes, as chances ---------------------------------
#
# Per artist, every medium and kind that matters to them (those the profile names, and the
# few unnamed ones their groups click) is "liked" or not, with a chance. Before the artist's
# own evidence: what the profile names is liked with STATED_PRIOR; an unnamed one with the
# share of the group that plausibly likes it (drawn, so the group keeps trying the ones it
# knows little about). The artist's own looks and clicks then weigh every combination of
# liked / not liked (Bayes' rule, the click rates per fit learned from everyone), and the
# digest ranks items by the clicks they are expected to earn under that posterior.

STATED_PRIOR = 0.75  # chance an artist likes a medium or kind their profile names
CANDIDATES_PER_DIMENSION = 1  # unnamed mediums (and kinds) weighed per artist
CANDIDATE_PRIOR_CLICKS = 5.0  # a group's lift on an unnamed one starts at 1, this strong
MAX_SHARE = 0.5  # a candidate is at most as likely as not, before the artist's own evidence
MAX_TOTAL_SHARE = 0.9  # what the profile names alone keeps at least this much chance
JOIN_SHARE = 0.5  # of those liking an unnamed one: besides what they named, not instead
OWN_CANDIDATES_PER_DIMENSION = 2  # and the unnamed ones the artist clicked most
CLICKED_CANDIDATE_PRIOR = 0.1  # the least chance given to an unnamed one the artist clicked
FIT_PRIOR_LOOKS = 50.0  # a fit's click rate starts at everyone's usual rate, this many looks
FITS = ("named/named", "named/other", "other/named", "other/other", "open/named", "open/other")


@dataclass(frozen=True)
class Taste:
    """The chance the artist likes each medium and kind that matters to them, and everyone's
    click rate per look by fit ("named" here: liked)."""

    mediums: dict[str, float]  # "medium:video" -> chance liked; empty: every medium is theirs
    kinds: dict[str, float]  # "kind:grant" -> chance liked; empty: every kind is theirs
    rates: dict[str, float]
    prior: dict[str, float]  # the chances before the artist's own evidence
    # One plausible taste drawn from the posterior (1 liked, 0 not), for the places that try
    # it (Thompson sampling): how an artist's doubt gets resolved by their own clicks.
    drawn: dict[str, float] = field(default_factory=dict)


def click_rates(priors: "TastePriors") -> dict[str, float] | None:
    """Clicks per look for each way an item fits the artist's real taste (medium/kind liked
    or not), from everyone; None before anyone clicked. What is observed is per fit with the
    profile, a mix: an item fitting the profile fits the real taste only with STATED_PRIOR on
    each count, so the rates are unmixed under that prior (an item the profile does not name
    is taken as not liked). A fit nobody was shown yet is assumed a third (one side) or a
    tenth (neither side) of a full fit, and full fit >= one side >= neither is kept.
    Worked out once per priors (a run): it depends on nothing else."""
    if "_click_rates" not in priors.__dict__:
        priors._click_rates = _click_rates(priors)
    return priors._click_rates


def _click_rates(priors: "TastePriors") -> dict[str, float] | None:
    looks = sum(priors.looks_of_fit.values())
    if not looks or not sum(priors.clicks_of_fit.values()):
        return None
    full_looks = priors.looks_of_fit.get("named/named", 0.0)
    full = (
        priors.clicks_of_fit.get("named/named", 0.0) / full_looks
        if full_looks
        else sum(priors.clicks_of_fit.values()) / looks
    )
    # Each fit's rate is shrunk toward what it is assumed before evidence (a third of a full
    # fit for one side, a tenth for neither): a fit few were shown (calls open to all
    # mediums, early on) does not swing the ranking on a handful of clicks.
    assumed = {fit: full / 3 if fit.count("named") == 1 else full / 10 for fit in FITS}
    assumed["named/named"] = full
    observed = {
        fit: (priors.clicks_of_fit.get(fit, 0.0) + FIT_PRIOR_LOOKS * assumed[fit])
        / (priors.looks_of_fit.get(fit, 0.0) + FIT_PRIOR_LOOKS)
        for fit in FITS
    }
    top = observed["named/named"]
    if top <= 0:
        return None
    seen = {
        fit: observed.get(fit, top / 3 if fit.count("named") == 1 else top / 10) for fit in FITS
    }
    seen["named/named"] = top
    stated, other = STATED_PRIOR, 1 - STATED_PRIOR
    neither = min(seen["other/other"], seen["named/other"], seen["other/named"])
    medium_only = max((seen["named/other"] - other * neither) / stated, neither)
    kind_only = max((seen["other/named"] - other * neither) / stated, neither)
    both = (top - stated * other * (medium_only + kind_only) - other * other * neither) / stated**2
    # Fitting on one side is taken as at most half as good as on both: the pooled one-side
    # rates include the unnamed mediums and kinds that many in fact like (what learning is
    # for), so on their own they can make the other side look irrelevant.
    both = max(both, neither * 2)
    medium_only, kind_only = min(medium_only, both / 2), min(kind_only, both / 2)
    open_other = min(seen["open/other"], seen["open/named"], both / 2)
    open_named = min(max((seen["open/named"] - other * open_other) / stated, open_other), both / 2)
    rates = {
        "named/named": both,
        "named/other": medium_only,
        "other/named": kind_only,
        "other/other": neither,
        "open/named": open_named,
        "open/other": open_other,
    }
    return {fit: min(max(rate, 1e-3), 0.9) for fit, rate in rates.items()}


def taste_candidates(
    priors: "TastePriors",
    *,
    dimension: str,
    stated,
    named: set[str],
    rates: dict[str, float],
    chance: random.Random,
    clicked=(),
) -> dict[str, float]:
    """Unnamed mediums (dimension "medium") or kinds ("kind") that artists stating the same
    ones plausibly like, with the share of them that do. A group's lift on a feature (clicks
    over the clicks expected from how its items fit the profiles) is drawn from its Gamma
    posterior (Thompson sampling, so little-tried ones get tried); a lift of 1 is nobody
    liking it, the lift of a full fit over a one-sided one is everybody. The best draw is
    weighed, and those of `clicked` (what the artist clicked most), so what the artist's own
    clicks showed is not forgotten when the group's draw goes elsewhere."""
    draws, shares = _candidate_draws(
        priors, dimension=dimension, stated=stated, named=named, rates=rates
    )
    # One draw per feature, in the features' order: the artist's seeded chance is consumed
    # the same way whatever was worked out before.
    gamma = chance.gammavariate
    drawn = [(-gamma(hits, scale), feature) for feature, hits, scale in draws]
    # The highest draws; of equal ones, the first feature by name.
    best = [feature for _, feature in heapq.nsmallest(CANDIDATES_PER_DIMENSION, drawn)]
    chosen = {feature: shares[feature] for feature in best if shares[feature] > 0.01}
    for feature in clicked:
        if feature in shares:
            chosen[feature] = max(shares[feature], CLICKED_CANDIDATE_PRIOR)
    return chosen


MAX_CACHED_CANDIDATES = 4096  # profiles' candidate lists kept per priors (a run)


def _candidate_draws(priors: "TastePriors", *, dimension: str, stated, named, rates) -> tuple:
    """What taste_candidates draws from, for everyone stating the same: (feature, Gamma
    shape, Gamma scale) in order, and each feature's share. It depends only on the priors and
    the profile, so it is kept per priors for the profiles of a run (bounded)."""
    prefix = f"{dimension}:"
    key = (
        dimension,
        tuple(stated),
        frozenset(f for f in named if f.startswith(prefix)),
        tuple(rates.items()),
    )
    cache = priors.__dict__.setdefault("_candidate_draws", {})
    if key in cache:
        return cache[key]
    if dimension == "kind":
        groups = frozenset(f"interest:{k}" for k in stated)
        everybody = rates["named/named"] / rates["named/other"]
    else:
        groups = frozenset(f"medium:{m}" for m in stated)
        everybody = rates["named/named"] / rates["other/named"]
    draws, shares = [], {}
    if everybody > 1:
        clicks, expected = priors.groups_clicks_and_expected(groups)
        for feature in sorted(priors.features):
            if not feature.startswith(prefix) or feature in named:
                continue
            hits = clicks.get(feature, 0.0) + CANDIDATE_PRIOR_CLICKS
            looks = expected.get(feature, 0.0) + CANDIDATE_PRIOR_CLICKS
            draws.append((feature, hits, 1.0 / looks))
            shares[feature] = min(MAX_SHARE, (hits / looks - 1) / (everybody - 1))
    if len(cache) >= MAX_CACHED_CANDIDATES:
        cache.clear()
    cache[key] = (draws, shares)
    return cache[key]


def artist_taste(
    own: Rates,
    *,
    mediums,
    kinds,
    named: set[str],
    priors: "TastePriors",
    chance: random.Random,
) -> Taste | None:
    """The artist's Taste: their profile and their groups' candidates as the prior, their
    own looks (items of digests they opened) and clicks as the evidence, once they clicked
    or answered at all. None before anyone clicked."""
    rates = click_rates(priors)
    if rates is None:
        return None
    dimensions = []
    for dimension, stated in (("kind", kinds), ("medium", mediums)):
        if not stated:
            dimensions.append(None)  # the profile names none: every one is theirs
            continue
        candidates = taste_candidates(
            priors,
            dimension=dimension,
            stated=stated,
            named=named,
            rates=rates,
            chance=chance,
            clicked=_most_clicked(own, dimension, named=named),
        )
        dimensions.append(_hypotheses([f"{dimension}:{v}" for v in stated], candidates))
    # Silence is not a signal: an artist who never clicked nor answered may not read, so
    # what they left unclicked weighs only once they clicked something.
    seen = (own.seen or ()) if own.has_signal else ()
    # The few log-likelihoods an item can have are the same for everyone: kept per priors,
    # and per click rates (the logs are of them; one priors gives one set of rates today).
    logs = priors.__dict__.setdefault("_item_logs", {}).setdefault(tuple(rates.items()), {})
    prior, chances, drawn = _posterior(seen, *dimensions, rates=rates, chance=chance, logs=logs)
    return Taste(
        mediums={f: q for f, q in chances.items() if f.startswith("medium:")},
        kinds={f: q for f, q in chances.items() if f.startswith("kind:")},
        rates=rates,
        prior=prior,
        drawn=drawn,
    )


def _hypotheses(stated: list[str], candidates: dict[str, float]) -> list[tuple[frozenset, float]]:
    """What the artist may like in one dimension, each with its prior chance: what they
    named; a candidate besides it (joins); or a candidate instead of one they named
    (replaces). A candidate's share of the group is split evenly between joining and
    replacing."""
    total = sum(candidates.values())
    scale = min(1.0, MAX_TOTAL_SHARE / total) if total else 1.0
    named = frozenset(stated)
    hypotheses, kept = [], 1.0
    for candidate, share in candidates.items():
        share *= scale
        kept -= share
        hypotheses.append((named | {candidate}, share * JOIN_SHARE))
        for feature in stated:
            replaced = (named - {feature}) | {candidate}
            hypotheses.append((replaced, share * (1 - JOIN_SHARE) / len(stated)))
    hypotheses.append((named, kept))
    return hypotheses


def _most_clicked(own: Rates, dimension: str, *, named: set[str]) -> list[str]:
    prefix = f"{dimension}:"
    clicked = [
        (-clicks, feature)
        for feature, clicks in own.clicks.items()
        if clicks > 0 and feature.startswith(prefix) and feature not in named
    ]
    return [feature for _, feature in sorted(clicked)[:OWN_CANDIDATES_PER_DIMENSION]]


def _posterior(seen, kinds, mediums, *, rates, chance: random.Random, logs=None) -> tuple:
    """Every pair of a kind hypothesis and a medium hypothesis (None: the profile names none,
    all fit), weighed by its prior and by how likely it makes what the artist clicked and
    left unclicked: the chance, before and after, that the artist likes each feature, and
    one pair drawn from the posterior (what the artist may like, for the places that try).
    Kind hypotheses name "kind:" features, medium ones "medium:" features. `logs` keeps
    _item_logs for these rates from call to call."""
    kinds = kinds or [(frozenset(), 1.0)]
    mediums = mediums or [(frozenset(), 1.0)]
    # Kinds sort before mediums, so a pair's row of `liked` is its kind's then its medium's.
    kind_features = sorted({f for liked, _ in kinds for f in liked})
    medium_features = sorted({f for liked, _ in mediums for f in liked})
    features = kind_features + medium_features
    kind_rows = [[f in liked for f in kind_features] for liked, _ in kinds]
    medium_rows = [[f in liked for f in medium_features] for liked, _ in mediums]
    # Pairs kind by kind, and within a kind medium by medium.
    liked_rows = [k + m for k in kind_rows for m in medium_rows]
    liked = np.array(liked_rows, dtype=bool)
    prior = np.array([pk * pm for _, pk in kinds for _, pm in mediums])
    log_weights = np.log(np.maximum(prior, 1e-12)).tolist()
    if seen:
        log_weights = _add_log_likelihoods(
            log_weights, seen, kinds, mediums, rates=rates, logs={} if logs is None else logs
        )
    # Python's max: numpy's number (the weights are finite), without an array call.
    weights = np.exp(np.array(log_weights) - max(log_weights))
    before = prior @ liked / prior.sum()
    after = weights @ liked / weights.sum()
    row = chance.choices(range(len(liked_rows)), weights=weights.tolist())[0]
    return (
        dict(zip(features, before.tolist(), strict=True)),
        dict(zip(features, after.tolist(), strict=True)),
        {feature: float(chosen) for feature, chosen in zip(features, liked_rows[row], strict=True)},
    )


# The columns of _item_logs: medium fit * 2 + kind fit, or open + kind fit.
_FIT_COLUMNS = ("other/other", "other/named", "named/other", "named/named")
_OPEN_COLUMNS = ("open/other", "open/named")


def _add_log_likelihoods(log_weights, seen, kinds, mediums, *, rates, logs) -> list[float]:
    """Each pair's log weight (kind by kind, and within a kind medium by medium) plus the
    log-likelihood of what the artist did with each item seen, added item by item in order,
    as the sum always was. An item has six of them, one per fit (_item_logs); each pair picks
    its fit's by whether its kind hypothesis likes the item's kind and its medium hypothesis
    one of the item's mediums. In plain floats: a few pairs by a dozen items, where an array
    operation per item cost more than the additions."""
    any_kind, any_medium = len(kinds) == 1 and not kinds[0][0], not mediums[0][0]
    # Each kind and medium a hypothesis names, as the hypotheses naming it (bit i: the i-th):
    # an item's fit with every pair follows from its kind's and its mediums' bits.
    kind_bits, medium_bits = _named_by(kinds), _named_by(mediums)
    for item_features, weight, clicks, extra in seen:
        item_kinds, item_mediums = _kinds_and_mediums(item_features)
        if any_kind:
            kind_fit = 1
        else:
            kind_fit = 0
            for feature in item_kinds:
                if feature in kind_bits:
                    kind_fit = kind_bits[feature]  # the last one a hypothesis names, as always
        if not item_mediums:
            medium_fit = None  # open to every medium
        elif any_medium:
            medium_fit = -1  # every bit set: each pair's medium hypothesis fits
        else:
            medium_fit = 0
            for feature in item_mediums:
                medium_fit |= medium_bits.get(feature, 0)
        columns = _pair_columns(len(kinds), len(mediums), kind_fit, medium_fit)
        item_logs = logs.get((weight, clicks, extra))
        if item_logs is None:
            no_clicks = (0.0 if clicks else 1.0) + extra
            item_logs = logs[weight, clicks, extra] = _item_logs(weight, clicks, no_clicks, rates)
        log_weights = [w + item_logs[c] for w, c in zip(log_weights, columns, strict=True)]
    return log_weights


@functools.lru_cache(maxsize=4096)
def _pair_columns(kinds: int, mediums: int, kind_fit: int, medium_fit: int | None) -> tuple:
    """The column of _item_logs each pair of hypotheses picks (kind by kind, and within a
    kind medium by medium) for an item whose kind the kind hypotheses of `kind_fit`'s bits
    like, and one of whose mediums those of `medium_fit`'s (None: open to every medium). It
    depends on nothing else, so artists with as many hypotheses share it (a tuple: shared,
    it must not change)."""
    return tuple(
        (4 if medium_fit is None else 2 if medium_fit & (1 << m) else 0)
        + (1 if kind_fit & (1 << k) else 0)
        for k in range(kinds)
        for m in range(mediums)
    )


def _named_by(hypotheses) -> dict[str, int]:
    """Each feature the hypotheses name, with the bits of those naming it (bit i: the i-th)."""
    bits: dict[str, int] = {}
    for i, (liked, _) in enumerate(hypotheses):
        bit = 1 << i
        for feature in liked:
            bits[feature] = bits.get(feature, 0) | bit
    return bits


@functools.lru_cache(maxsize=8192)
def _kinds_and_mediums(features: tuple) -> tuple[tuple, tuple]:
    """An item's kinds and mediums, in order: worked out once per opportunity, not once for
    every artist who was shown it."""
    return (
        tuple(f for f in features if f.startswith("kind:")),
        tuple(f for f in features if f.startswith("medium:")),
    )


def _item_logs(weight: float, clicks: float, no_clicks: float, rates) -> list[float]:
    """The log-likelihood of `clicks` and `no_clicks` on an item of this position weight, for
    each fit (_FIT_COLUMNS, then _OPEN_COLUMNS): its click chance is the weight times the
    fit's rate. Element by element as numpy always worked them out (np.log, not math.log)."""
    fit_rates = np.array([rates[fit] for fit in _FIT_COLUMNS + _OPEN_COLUMNS])
    p = np.clip(weight * fit_rates, 1e-4, 0.999)
    return (clicks * np.log(p) + no_clicks * np.log(1 - p)).tolist()


def taste_shifts(taste: Taste) -> dict[str, float]:
    """log2 of how far the artist's own evidence moved each chance from the prior (for the
    admin's "why it was picked")."""
    return _log2({f: q / taste.prior[f] for f, q in (taste.mediums | taste.kinds).items()})
