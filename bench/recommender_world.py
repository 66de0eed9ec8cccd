"""A simulated world for the recommender's offline evaluation (bench/recommender.py).

Artists state mediums and the kinds of opportunity they look for; their true taste, hidden
from Proletto, differs for many of them in a way shared by artists with the same profile (in
one world photographers click video, in another painters want residencies rather than open
calls): a neighbouring medium or kind, fixed per world, replaces or joins what they stated.
A recommender that learns from what similar artists click can find it; the profile alone
cannot.

An artist opens a week's digest with a fixed probability and clicks an item with a
probability set by the item's fit to their true taste, scaled by how far down the email it
sits (people read the top first). The figures are expectations over these probabilities,
so an arm's score does not depend on the dice; the dice only decide which clicks the
recommender gets to learn from.
"""

import datetime as dt
import random
from dataclasses import dataclass

from proletto.vocabulary import MEDIUMS

KINDS = ["open_call", "residency", "grant", "fellowship", "competition", "commission"]
TAGS = ["ecology", "community", "technology", "figurative", "migration", "books"]
# Chance a reader looks at the item in position 1..5 of the email.
POSITION_WEIGHTS = (1.0, 0.85, 0.72, 0.62, 0.54)
OPEN_PROBABILITY = 0.7
# An item the artist truly likes on both counts is clicked this often when looked at.
BASE, MEDIUM_FIT, KIND_FIT, BOTH_FIT = 0.01, 0.10, 0.07, 0.17
OPEN_TO_ALL_FIT = 0.3  # an item naming no medium fits a little whatever the taste
RELEVANT = 0.15  # click probability from which an item counts as relevant (precision@5)


@dataclass(frozen=True)
class WorldItem:
    key: str
    kind: str
    mediums: tuple[str, ...]
    tags: tuple[str, ...]
    days_left: int
    is_remote: bool


@dataclass(frozen=True)
class Artist:
    key: str
    stated_mediums: tuple[str, ...]
    stated_kinds: tuple[str, ...]
    tags: tuple[str, ...]
    true_mediums: frozenset[str]
    true_kinds: frozenset[str]

    @property
    def hidden(self) -> bool:
        return self.true_mediums != set(self.stated_mediums) or self.true_kinds != set(
            self.stated_kinds
        )


@dataclass
class World:
    items: list[WorldItem]
    artists: list[Artist]
    medium_neighbour: dict[str, str]
    kind_neighbour: dict[str, str]

    def click_probability(self, artist: Artist, item: WorldItem) -> float:
        """When the artist looks at the item: how likely they click it."""
        if not item.mediums:
            medium = OPEN_TO_ALL_FIT
        else:
            medium = 1.0 if artist.true_mediums & set(item.mediums) else 0.0
        kind = 1.0 if item.kind in artist.true_kinds else 0.0
        return BASE + MEDIUM_FIT * medium + KIND_FIT * kind + BOTH_FIT * medium * kind

    def expected_clicks(self, artist: Artist, picks: list[WorldItem]) -> float:
        return OPEN_PROBABILITY * sum(
            weight * self.click_probability(artist, item)
            for weight, item in zip(POSITION_WEIGHTS, picks, strict=False)
        )

    def relevant(self, artist: Artist, item: WorldItem) -> bool:
        return self.click_probability(artist, item) >= RELEVANT


def world_build(*, seed: int, artists: int, items: int, hidden_share: float) -> World:
    rng = random.Random(seed)
    mediums = sorted(MEDIUMS)
    # Each medium's neighbour: the one its artists drift to (photography -> video, ...).
    shuffled = mediums[:]
    rng.shuffle(shuffled)
    medium_neighbour = {m: shuffled[(i + 1) % len(shuffled)] for i, m in enumerate(shuffled)}
    kinds = KINDS[:]
    rng.shuffle(kinds)
    kind_neighbour = {k: kinds[(i + 1) % len(kinds)] for i, k in enumerate(kinds)}
    catalogue = [
        WorldItem(
            key=f"world{seed}-item{i}",
            kind=rng.choice(KINDS),
            mediums=tuple(rng.sample(mediums, rng.choice((0, 1, 1, 1, 2, 2)))),
            tags=tuple(rng.sample(TAGS, rng.randint(0, 2))),
            days_left=rng.randint(70, 240),
            is_remote=rng.random() < 0.2,
        )
        for i in range(items)
    ]
    people = []
    for i in range(artists):
        stated_mediums = tuple(rng.sample(mediums, rng.choice((1, 1, 2))))
        stated_kinds = tuple(rng.sample(KINDS, rng.choice((1, 2))))
        true_mediums, true_kinds = set(stated_mediums), set(stated_kinds)
        if rng.random() < hidden_share:
            # What they make is next to what they said: the neighbour joins their first
            # medium or, for some, replaces it (a photographer who only clicks video).
            drifted = stated_mediums[0]
            if rng.random() < 0.5:
                true_mediums -= {drifted}
            true_mediums |= {medium_neighbour[drifted]}
        if rng.random() < hidden_share:
            # What they look for: the neighbour kind instead of the first one they named
            # (a painter who wants residencies, not open calls).
            drifted = stated_kinds[0]
            true_kinds = (true_kinds - {drifted}) | {kind_neighbour[drifted]}
        people.append(
            Artist(
                key=f"w{seed}a{i}",
                stated_mediums=stated_mediums,
                stated_kinds=stated_kinds,
                tags=tuple(rng.sample(TAGS, rng.randint(0, 1))),
                true_mediums=frozenset(true_mediums),
                true_kinds=frozenset(true_kinds),
            )
        )
    return World(
        items=catalogue,
        artists=people,
        medium_neighbour=medium_neighbour,
        kind_neighbour=kind_neighbour,
    )


def oracle_picks(world: World, artist: Artist, *, sent: set[str], limit: int) -> list[WorldItem]:
    """The best the catalogue holds for the artist's true taste, never an item twice."""
    candidates = [item for item in world.items if item.key not in sent]
    candidates.sort(key=lambda item: (-world.click_probability(artist, item), item.days_left))
    return candidates[:limit]


def popular_picks(
    world: World, clicks: dict[str, int], *, sent: set[str], limit: int
) -> list[WorldItem]:
    """The same for everyone: the items clicked most so far, then the nearest deadline."""
    candidates = [item for item in world.items if item.key not in sent]
    candidates.sort(key=lambda item: (-clicks.get(item.key, 0), item.days_left, item.key))
    return candidates[:limit]


def week_start(first_monday: dt.datetime, week: int) -> dt.datetime:
    return first_monday + dt.timedelta(weeks=week)
