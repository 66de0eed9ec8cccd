"""Rates, not counts: what the learner makes of impressions, clicks and answers."""

import gc
import itertools
import random
import tracemalloc
import weakref
from itertools import product

from digests.learning import (
    Rates,
    TastePriors,
    artist_lifts,
    artist_taste,
    profile_fit,
    profile_groups,
    rates_by_group,
)
from digests.selectors import _fit

PAINTERS = profile_groups(mediums={"painting"}, interests=set())
SCULPTORS = profile_groups(mediums={"sculpture"}, interests=set())
VIDEO = ["medium:video", "kind:grant"]
PAINTING = ["medium:painting", "kind:open_call"]
FITS_MEDIUM, FITS_NOTHING = "named/other", "other/other"


def everyone_clicks_a_fifth() -> TastePriors:
    usual = Rates()
    for shown in range(50):
        for fit in (FITS_MEDIUM, FITS_NOTHING):
            usual.add(["medium:ceramics"], fit=fit, position=1, clicked=shown % 5 == 0)
    return TastePriors({"medium:sculpture": usual})


def painters_who_click_video() -> TastePriors:
    painters, sculptors = Rates(), Rates()
    for _ in range(40):
        painters.add(VIDEO, fit=FITS_NOTHING, position=1, clicked=True)
        painters.add(PAINTING, fit=FITS_MEDIUM, position=1, clicked=False)
        sculptors.add(["medium:ceramics"], fit=FITS_NOTHING, position=1, clicked=False)
    return TastePriors({"medium:painting": painters, "medium:sculpture": sculptors})


def test_an_artist_who_never_clicked_gets_what_similar_artists_click():
    shown_and_ignored = Rates()
    for position in range(1, 6):
        shown_and_ignored.add(PAINTING, fit=FITS_MEDIUM, position=position, clicked=False)
    priors = painters_who_click_video()
    assert artist_lifts(shown_and_ignored, groups=PAINTERS, priors=priors) == artist_lifts(
        Rates(), groups=PAINTERS, priors=priors
    )
    assert artist_lifts(Rates(), groups=PAINTERS, priors=priors)["medium:video"] > 0


def test_shown_and_not_clicked_lowers_a_feature_for_an_artist_who_clicks():
    rates = Rates()
    for _ in range(6):
        rates.add(["medium:painting", "kind:residency"], fit=FITS_MEDIUM, position=1, clicked=True)
        rates.add(["medium:painting", "kind:open_call"], fit=FITS_MEDIUM, position=2, clicked=False)
    lifts = artist_lifts(rates, groups=PAINTERS, priors=everyone_clicks_a_fifth())
    assert lifts["kind:residency"] > 0 > lifts["kind:open_call"]


def test_not_for_me_sinks_a_feature_more_than_silence():
    ignored, refused = Rates(), Rates()
    for rates in (ignored, refused):
        for _ in range(3):
            rates.add(["kind:grant"], fit=FITS_MEDIUM, position=1, clicked=True)
    ignored.add(["kind:open_call"], fit=FITS_MEDIUM, position=1, clicked=False)
    refused.add(["kind:open_call"], fit=FITS_MEDIUM, position=1, clicked=False, feedback="less")
    priors = everyone_clicks_a_fifth()
    assert artist_lifts(refused, groups=PAINTERS, priors=priors)["kind:open_call"] < artist_lifts(
        ignored, groups=PAINTERS, priors=priors
    ).get("kind:open_call", 0.0)


def test_more_like_this_raises_a_feature_more_than_a_click():
    clicked, asked = Rates(), Rates()
    for rates in (clicked, asked):
        for position in range(1, 6):
            rates.add(["kind:open_call"], fit=FITS_MEDIUM, position=1, clicked=position == 1)
            rates.add(["kind:grant"], fit=FITS_MEDIUM, position=position, clicked=False)
    clicked.add(["kind:grant"], fit=FITS_MEDIUM, position=1, clicked=True)
    asked.add(["kind:grant"], fit=FITS_MEDIUM, position=1, clicked=True, feedback="more")
    priors = everyone_clicks_a_fifth()
    assert artist_lifts(asked, groups=PAINTERS, priors=priors)["kind:grant"] > artist_lifts(
        clicked, groups=PAINTERS, priors=priors
    ).get("kind:grant", 0.0)


def painters_and_their_neighbour_kind() -> TastePriors:
    """Painters looking for open calls click residencies far above usual; everything else
    is clicked as usual."""
    painters = Rates()
    for shown in range(200):
        painters.add(PAINTING, fit="named/named", position=1, clicked=shown % 4 == 0)
        painters.add(
            ["medium:painting", "kind:grant"],
            fit="named/other",
            position=1,
            clicked=shown % 10 == 0,
        )
        painters.add(
            ["medium:painting", "kind:residency"],
            fit="named/other",
            position=1,
            clicked=shown % 4 == 0,
        )
    return TastePriors({"medium:painting": painters, "interest:open_call": painters})


def taste_of(rates: Rates):
    return artist_taste(
        rates,
        mediums=["painting"],
        kinds=["open_call"],
        named={"medium:painting", "kind:open_call", "tag:open_call"},
        priors=painters_and_their_neighbour_kind(),
        chance=random.Random(1),
    )


def test_an_artist_who_never_clicked_nor_answered_reads_as_one_shown_nothing():
    # digests.selectors.digest_profiles does not add such an artist's items at all.
    silent = Rates(seen=[])
    for _ in range(4):
        for position in range(1, 7):
            fit = ("named/named", "named/other", "other/other", "open/named")[position % 4]
            silent.add(PAINTING, fit=fit, position=position, clicked=False)
            silent.add(["kind:grant"], fit=fit, position=position, clicked=False, feedback="")
    assert not silent.has_signal and not silent.more and not silent.less
    assert taste_of(silent) == taste_of(Rates(seen=[]))
    priors = painters_who_click_video()
    for prefix in ("", "tag:", "medium:"):
        assert artist_lifts(silent, groups=PAINTERS, priors=priors, prefix=prefix) == (
            artist_lifts(Rates(seen=[]), groups=PAINTERS, priors=priors, prefix=prefix)
        )


def test_an_artists_tag_lifts_need_only_the_looks_of_tags():
    # digests.selectors.digest_profiles keeps only those once the run has a Taste.
    rng = random.Random(3)
    every, tags = Rates(seen=[]), Rates(seen=[], looks_kept="tag:")
    for _ in range(60):
        features = [f"kind:{rng.choice(['grant', 'residency'])}"]
        features += rng.sample(["medium:painting", "medium:video", "tag:ecology", "tag:sound"], 2)
        item = dict(
            fit=rng.choice(["named/named", "named/other", "other/other", "open/other"]),
            position=rng.randint(1, 6),
            clicked=rng.random() < 0.3,
            feedback=rng.choice(["", "", "", "more", "less"]),
        )
        every.add(features, **item)
        tags.add(features, **item)
    assert not any(f.startswith(("kind:", "medium:")) for f, _ in tags.impressions)
    assert (tags.clicks, tags.seen, tags.more, tags.less) == (
        every.clicks,
        every.seen,
        every.more,
        every.less,
    )
    priors = painters_who_click_video()
    lifts = artist_lifts(every, groups=PAINTERS, priors=priors, prefix="tag:")
    kept = artist_lifts(tags, groups=PAINTERS, priors=priors, prefix="tag:")
    assert list(kept.items()) == list(lifts.items())  # the same numbers in the same order
    assert lifts


def test_the_group_names_the_unnamed_kind_an_artist_may_like_instead():
    taste = taste_of(Rates(seen=[]))
    assert set(taste.kinds) == {"kind:open_call", "kind:residency"}
    assert taste.kinds["kind:open_call"] > taste.kinds["kind:residency"] > 0


def test_an_artist_who_ignores_the_named_kind_and_clicks_the_neighbour_is_believed():
    own = Rates(seen=[])
    for week in range(4):
        for position in range(1, 5):
            own.add(PAINTING, fit="named/named", position=position, clicked=False)
        own.add(
            ["medium:painting", "kind:residency"], fit="named/other", position=5, clicked=week > 0
        )
    taste = taste_of(own)
    assert taste.kinds["kind:residency"] > taste.kinds["kind:open_call"]


def test_a_run_keeps_no_group_lifts_per_artist():
    # Artists' mediums and interests combine in nearly as many ways as there are artists: the
    # lifts a run keeps for them must not grow with the run (20 MB at 100,000 artists).
    clicked_video = Rates()
    clicked_video.add(VIDEO, fit=FITS_NOTHING, position=1, clicked=True)
    priors = TastePriors({f"interest:topic {i}": clicked_video for i in range(200)})
    mixes = (
        profile_groups(mediums={"painting"}, interests=pair)
        for pair in itertools.combinations([f"topic {i}" for i in range(200)], 2)
    )

    def lifts_of(artists: int) -> None:
        for groups in itertools.islice(mixes, artists):
            artist_lifts(Rates(), groups=groups, priors=priors)

    tracemalloc.start()
    try:
        lifts_of(2_000)
        after_a_few = tracemalloc.get_traced_memory()[0]
        lifts_of(17_000)
        after_many = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after_many - after_a_few < 100_000  # bytes, for 17,000 more artists


def test_a_seen_items_fit_is_the_profile_fit_of_its_features():
    item_mediums = ([], ["video"], ["video", "painting"])
    kinds = ("grant", "residency")
    profiles = product(
        ((), ("painting",), ("video", "ceramics")), ((), ("grant",), ("residency", "video"))
    )
    for (mediums, kind), (stated_mediums, interests) in product(
        product(item_mediums, kinds), profiles
    ):
        features = [f"kind:{kind}", *(f"medium:{m}" for m in mediums), "tag:ecology"]
        fit = _fit((features, kind, frozenset(mediums)), (stated_mediums, interests))
        assert fit == profile_fit(features, mediums=stated_mediums, interests=interests)


def test_group_rates_summed_in_arrays_are_the_item_by_item_sums_bit_for_bit():
    chance = random.Random(7)
    features_of = {
        opportunity: [
            f"kind:{chance.choice(['grant', 'residency', 'open_call'])}",
            *(f"medium:{m}" for m in chance.sample(["video", "painting", "sound"], 2)),
            f"tag:topic {opportunity % 3}",
        ]
        for opportunity in range(30)
    }
    groups_of = {
        artist: profile_groups(
            # Some name nothing: no group (a cold start's general picks are seen too).
            mediums=chance.sample(["video", "painting", "ceramics"], chance.randint(0, 2)),
            interests=chance.sample(["grant", "ecology"], chance.randint(0, 2)),
        )
        for artist in range(12)
    }
    items = [
        (
            chance.randrange(12),
            chance.randrange(30),
            chance.choice(["named/named", "other/other", "open/named", "named/other"]),
            chance.randint(1, 7),
            chance.random() < 0.3,
            chance.choice(["", "", "", "more", "less"]),
        )
        for _ in range(3000)
    ]
    one_by_one: dict[str, Rates] = {}
    for artist, opportunity, fit, position, clicked, feedback in items:
        for group in groups_of[artist]:
            one_by_one.setdefault(group, Rates()).add(
                features_of[opportunity],
                fit=fit,
                position=position,
                clicked=clicked,
                feedback=feedback,
            )

    summed = rates_by_group(
        iter(items), groups_of=groups_of, features_of=features_of, cells_per_sum=700
    )

    assert summed.keys() == one_by_one.keys()
    for group, rates in one_by_one.items():
        assert summed[group].impressions == rates.impressions
        assert summed[group].clicks == rates.clicks
        assert summed[group].fit_clicks == rates.fit_clicks
        assert summed[group].item_clicks == rates.item_clicks


def test_a_runs_priors_are_freed_without_the_cycle_collector():
    priors = painters_who_click_video()
    artist_lifts(Rates(), groups=PAINTERS, priors=priors)
    freed = weakref.ref(priors)
    gc.disable()
    try:
        del priors
        assert freed() is None
    finally:
        gc.enable()


def test_items_seen_only_by_artists_in_no_group_make_no_group_rates():
    items = [(1, 10, "open/other", 1, True, "more"), (1, 11, "open/other", 2, False, "")]
    summed = rates_by_group(
        iter(items),
        groups_of={1: profile_groups(mediums=(), interests=())},
        features_of={10: ["kind:grant"], 11: []},
    )
    assert summed == {}
