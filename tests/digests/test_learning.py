"""Rates, not counts: what the learner makes of impressions, clicks and answers."""

from digests.learning import Rates, TastePriors, artist_lifts, profile_groups

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
