"""The taste posterior, worked out in plain floats for speed, agrees bit for bit with the
array arithmetic it replaced (kept here as the reference): digests must not move."""

import random

import numpy as np

from digests.learning import FITS, _posterior


def reference_posterior(seen, kinds, mediums, *, rates, chance):
    """_posterior as it was first written: one array operation per step, for all pairs."""
    kinds = kinds or [(frozenset(), 1.0)]
    mediums = mediums or [(frozenset(), 1.0)]
    any_kind, any_medium = len(kinds) == 1 and not kinds[0][0], not mediums[0][0]
    features = sorted({f for liked, _ in kinds + mediums for f in liked})
    index = {feature: i for i, feature in enumerate(features)}
    pairs = [(k | m, pk * pm) for k, pk in kinds for m, pm in mediums]
    liked = np.zeros((len(pairs), len(features)), dtype=bool)
    liked[
        [row for row, (features_liked, _) in enumerate(pairs) for _ in features_liked],
        [index[f] for features_liked, _ in pairs for f in features_liked],
    ] = True
    prior = np.array([chance for _, chance in pairs])
    log_weight = np.log(np.maximum(prior, 1e-12))
    if seen:
        for contribution in reference_log_likelihoods(
            seen, liked, index, any_kind, any_medium, rates
        ):
            log_weight += contribution
    weights = np.exp(log_weight - log_weight.max())
    before = prior @ liked / prior.sum()
    after = weights @ liked / weights.sum()
    row = chance.choices(range(len(pairs)), weights=weights.tolist())[0]
    return (
        dict(zip(features, before.tolist(), strict=True)),
        dict(zip(features, after.tolist(), strict=True)),
        {f: float(chosen) for f, chosen in zip(features, liked[row].tolist(), strict=True)},
    )


def reference_log_likelihoods(seen, liked, index, any_kind, any_medium, rates):
    pairs, width = liked.shape
    none_col, all_col = width, width + 1
    fits = np.zeros((pairs, width + 2), dtype=np.int64)
    fits[:, :width] = liked
    fits[:, all_col] = 1
    kind_cols = np.empty(len(seen), dtype=np.int64)
    medium_of = np.zeros((len(seen), width + 2), dtype=np.int64)
    is_open = np.ones(len(seen), dtype=bool)
    item_weights, clicks, no_clicks = [], [], []
    for row, (item_features, weight, item_clicks, extra) in enumerate(seen):
        kind_col = all_col if any_kind else none_col
        for feature in item_features:
            if feature.startswith("kind:") and not any_kind and feature in index:
                kind_col = index[feature]
            elif feature.startswith("medium:"):
                is_open[row] = False
                if feature in index:
                    medium_of[row, index[feature]] = 1
        if any_medium:
            medium_of[row, all_col] = 1
        kind_cols[row] = kind_col
        item_weights.append(weight)
        clicks.append(item_clicks)
        no_clicks.append((0.0 if item_clicks else 1.0) + extra)
    kind_fit = fits[:, kind_cols].T
    medium_fit = (medium_of @ fits.T) > 0
    column = np.where(is_open[:, None], 4 + kind_fit, 2 * medium_fit + kind_fit)
    order = ("other/other", "other/named", "named/other", "named/named", "open/other", "open/named")
    fit_rates = np.array([rates[fit] for fit in order])
    p = np.clip(np.array(item_weights)[:, None] * fit_rates, 1e-4, 0.999)
    by_fit = np.array(clicks)[:, None] * np.log(p) + np.array(no_clicks)[:, None] * np.log(1 - p)
    return np.take_along_axis(by_fit, column, axis=1)


KINDS = [f"kind:{k}" for k in ("grant", "residency", "open_call", "prize", "commission")]
MEDIUMS = [f"medium:{m}" for m in ("painting", "video", "sound", "textile", "ceramics", "print")]


def random_hypotheses(rng, features):
    """What _hypotheses makes: the named ones, alone, with a candidate, or one swapped."""
    if rng.random() < 0.3:
        return None
    named = frozenset(rng.sample(features[:3], rng.randint(1, 3)))
    hypotheses, kept = [], 1.0
    for candidate in rng.sample(features[3:], rng.randint(0, 2)):
        share = rng.choice([0.0, rng.random() * 0.4])
        kept -= share
        hypotheses.append((named | {candidate}, share / 2))
        for feature in sorted(named):
            hypotheses.append(((named - {feature}) | {candidate}, share / 2 / len(named)))
    hypotheses.append((named, kept))
    return hypotheses


def random_item(rng):
    features = rng.sample(KINDS, rng.choice([0, 1, 1, 1, 2]))  # two kinds: the last counts
    features += rng.sample(MEDIUMS, rng.choice([0, 1, 2, 3]))  # none: open to every medium
    features += ["tag:ecology"] * rng.randint(0, 1)
    rng.shuffle(features)
    clicks = rng.choice([0.0, 0.0, 0.0, 1.0, 3.0, 4.0])
    extra = 3.0 if not clicks and rng.random() < 0.1 else 0.0
    return tuple(features), rng.choice((1.0, 0.85, 0.72, 0.62, 0.54)), clicks, extra


def test_the_posterior_is_the_reference_bit_for_bit():
    rng = random.Random(7)
    logs = {}  # kept from case to case, as artist_taste keeps it for a run
    rates = {fit: rng.uniform(0.001, 0.3) for fit in FITS}
    for case in range(400):
        kinds, mediums = random_hypotheses(rng, KINDS), random_hypotheses(rng, MEDIUMS)
        seen = [random_item(rng) for _ in range(rng.choice([0, 1, 5, 15, 20]))]
        seed = rng.random()
        expected = reference_posterior(
            seen, kinds, mediums, rates=rates, chance=(expected_chance := random.Random(seed))
        )
        chance = random.Random(seed)
        posterior = _posterior(seen, kinds, mediums, rates=rates, chance=chance, logs=logs)
        # The same numbers, in the same order.
        assert [list(d.items()) for d in posterior] == [list(d.items()) for d in expected], case
        assert chance.getstate() == expected_chance.getstate(), case
