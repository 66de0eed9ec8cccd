"""Rates, not counts: what the learner makes of impressions, clicks and answers."""

from digests.learning import Rates, TastePriors, artist_lifts, profile_groups

PAINTERS = profile_groups(mediums={"painting"}, interests=set())
VIDEO = ["medium:video", "kind:grant"]
PAINTING = ["medium:painting", "kind:open_call"]


def painters_who_click_video() -> TastePriors:
    group = Rates()
    for _ in range(40):
        group.add(VIDEO, position=1, clicked=True)
        group.add(PAINTING, position=1, clicked=False)
        group.add(PAINTING, position=2, clicked=False)
    return TastePriors({"medium:painting": group})


def test_an_artist_who_never_clicked_gets_what_similar_artists_click():
    shown_and_ignored = Rates()
    for position in range(1, 6):
        shown_and_ignored.add(PAINTING, position=position, clicked=False)
    priors = painters_who_click_video()
    assert artist_lifts(shown_and_ignored, groups=PAINTERS, priors=priors) == artist_lifts(
        Rates(), groups=PAINTERS, priors=priors
    )
    assert artist_lifts(Rates(), groups=PAINTERS, priors=priors)["medium:video"] > 0


def test_shown_and_not_clicked_lowers_a_feature_for_an_artist_who_clicks():
    rates = Rates()
    for week in range(6):
        rates.add(["medium:painting", "kind:residency"], position=1, clicked=True)
        rates.add(["medium:painting", "kind:open_call"], position=2, clicked=False)
    lifts = artist_lifts(rates, groups=PAINTERS, priors=TastePriors({}))
    assert lifts["kind:residency"] > 0 > lifts["kind:open_call"]


def test_not_for_me_sinks_a_feature_more_than_silence():
    ignored, refused = Rates(), Rates()
    for rates in (ignored, refused):
        rates.add(["kind:grant"], position=1, clicked=True)
    ignored.add(["kind:open_call"], position=1, clicked=False)
    refused.add(["kind:open_call"], position=1, clicked=False, feedback="less")
    priors = TastePriors({})
    assert (
        artist_lifts(refused, groups=PAINTERS, priors=priors)["kind:open_call"]
        < artist_lifts(ignored, groups=PAINTERS, priors=priors)["kind:open_call"]
    )


def test_more_like_this_raises_a_feature_more_than_a_click():
    clicked, asked = Rates(), Rates()
    for rates in (clicked, asked):
        for position in range(1, 6):
            rates.add(["kind:open_call"], position=1, clicked=position == 1)
            rates.add(["kind:grant"], position=position, clicked=False)
    clicked.add(["kind:grant"], position=1, clicked=True)
    asked.add(["kind:grant"], position=1, clicked=True, feedback="more")
    priors = TastePriors({})
    assert (
        artist_lifts(asked, groups=PAINTERS, priors=priors)["kind:grant"]
        > artist_lifts(clicked, groups=PAINTERS, priors=priors)["kind:grant"]
    )
