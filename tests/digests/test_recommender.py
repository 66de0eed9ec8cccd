import datetime as dt

from digests.learning import Taste
from digests.recommender import Catalogue, Item, Profile

TODAY = dt.date(2026, 11, 23)


def days(n):
    return TODAY + dt.timedelta(days=n)


# A hand-made catalogue with known right answers for the profiles below.
CATALOGUE = [
    Item(1, "open-call", frozenset({"painting"}), frozenset({"figurative"}), "IT", False, days(20)),
    Item(2, "residency", frozenset({"painting", "drawing"}), frozenset(), "FR", False, days(30)),
    Item(3, "grant", frozenset({"sculpture"}), frozenset({"ecology"}), "GH", False, days(20)),
    Item(4, "open-call", frozenset(), frozenset({"ecology"}), "", True, days(60)),
    Item(5, "open-call", frozenset({"painting"}), frozenset(), "US", False, days(2)),  # too soon
    Item(
        6,
        "fellowship",
        frozenset({"photography"}),
        frozenset(),
        "US",
        False,
        days(20),
        eligible_countries=frozenset({"US"}),
    ),
    Item(
        7,
        "residency",
        frozenset({"painting"}),
        frozenset(),
        "IT",
        False,
        days(20),
        eligible_stages=frozenset({"established"}),
    ),
    Item(8, "open-call", frozenset({"ceramics"}), frozenset(), "JP", False, None),
]

GIULIA = Profile(
    user_id=10,
    mediums=frozenset({"painting", "drawing"}),
    interests=frozenset({"residency", "figurative"}),
    country="IT",
    career_stage="emerging",
)


def ids(picks):
    return [pick.item_id for pick in picks]


def test_it_ranks_by_fit_with_the_profile():
    picks = Catalogue(CATALOGUE, today=TODAY).recommend(GIULIA)
    # 2: two mediums + residency interest; 1: painting + figurative + Italy; 4: open to all.
    assert ids(picks) == [2, 1, 4]


def test_it_leaves_out_deadlines_too_close_to_apply():
    assert 5 not in ids(Catalogue(CATALOGUE, today=TODAY).recommend(GIULIA, limit=10))


def test_it_leaves_out_what_the_artist_is_not_eligible_for():
    picks = Catalogue(CATALOGUE, today=TODAY).recommend(GIULIA, limit=10)
    assert 7 not in ids(picks)  # established artists only
    photographer = Profile(user_id=11, mediums=frozenset({"photography"}), country="IT")
    assert 6 not in ids(Catalogue(CATALOGUE, today=TODAY).recommend(photographer))


def test_it_never_sends_an_opportunity_twice():
    profile = Profile(**{**GIULIA.__dict__, "already_sent": frozenset({2})})
    assert ids(Catalogue(CATALOGUE, today=TODAY).recommend(profile)) == [1, 4]


def test_it_sends_fewer_when_few_fit():
    ceramicist = Profile(user_id=12, mediums=frozenset({"ceramics"}), country="JP")
    assert ids(Catalogue(CATALOGUE, today=TODAY).recommend(ceramicist)) == [8, 4]


def test_it_recommends_nothing_for_an_empty_profile():
    assert Catalogue(CATALOGUE, today=TODAY).recommend(Profile(user_id=13)) == []


def test_a_learned_lift_raises_similar_opportunities():
    painter = Profile(user_id=14, mediums=frozenset({"painting"}), country="DE")
    before = ids(Catalogue(CATALOGUE, today=TODAY).recommend(painter))
    assert before.index(1) < before.index(2)  # equal fit, earlier deadline first
    learned = Profile(**{**painter.__dict__, "lifts": {"kind:residency": 1.0}})
    after = ids(Catalogue(CATALOGUE, today=TODAY).recommend(learned))
    assert after.index(2) < after.index(1)


def test_a_medium_clicked_far_more_than_usual_outranks_the_one_the_profile_names():
    items = [
        Item(1, "grant", frozenset({"painting"}), frozenset(), "", False, days(20)),
        Item(2, "grant", frozenset({"video"}), frozenset(), "", False, days(20)),
    ]
    profile = Profile(
        user_id=1,
        mediums=frozenset({"painting"}),
        lifts={"medium:video": 2.0, "medium:painting": -0.5},
    )
    assert ids(Catalogue(items, today=TODAY).recommend(profile)) == [2, 1]


def test_a_medium_the_profile_does_not_name_is_labelled_you_might_also_like():
    items = [
        Item(i, "grant", frozenset({"painting"}), frozenset(), "", False, days(20))
        for i in range(1, 6)
    ] + [Item(9, "grant", frozenset({"video"}), frozenset(), "", False, days(20))]
    profile = Profile(user_id=1, mediums=frozenset({"painting"}), explore={"medium:video": 2.0})
    picks = Catalogue(items, today=TODAY).recommend(profile)
    assert [pick.item_id for pick in picks if pick.discovery] == [9]
    assert picks[-1].reasons[0] == "you might also like: video"


def test_it_is_deterministic_and_breaks_ties_by_deadline_then_id():
    items = [
        Item(9, "grant", frozenset({"painting"}), frozenset(), "", False, days(20)),
        Item(3, "grant", frozenset({"painting"}), frozenset(), "", False, days(20)),
        Item(5, "grant", frozenset({"painting"}), frozenset(), "", False, days(10)),
    ]
    profile = Profile(user_id=1, mediums=frozenset({"painting"}))
    assert ids(Catalogue(items, today=TODAY).recommend(profile)) == [5, 3, 9]
    assert ids(Catalogue(list(reversed(items)), today=TODAY).recommend(profile)) == [5, 3, 9]


def test_each_pick_says_why_it_was_picked():
    first = Catalogue(CATALOGUE, today=TODAY).recommend(GIULIA)[0]
    assert first.reasons == (
        "medium: drawing",
        "medium: painting",
        "interest: residency",
        "deadline in 30 days",
    )


def test_with_a_taste_an_unnamed_kind_the_artist_likes_outranks_the_named_one():
    items = [
        Item(i, "open_call", frozenset({"painting"}), frozenset(), "", False, days(20))
        for i in range(1, 4)
    ] + [Item(9, "residency", frozenset({"painting"}), frozenset(), "", False, days(40))]
    rates = {
        "named/named": 0.3,
        "named/other": 0.1,
        "other/named": 0.08,
        "other/other": 0.01,
        "open/named": 0.1,
        "open/other": 0.01,
    }
    taste = Taste(
        mediums={"medium:painting": 0.9},
        kinds={"kind:open_call": 0.2, "kind:residency": 0.8},
        rates=rates,
        prior={"medium:painting": 0.9, "kind:open_call": 0.8, "kind:residency": 0.3},
    )
    profile = Profile(
        user_id=1,
        mediums=frozenset({"painting"}),
        interests=frozenset({"open_call"}),
        taste=taste,
        explore={"kind:residency": 1.0},
    )
    picks = Catalogue(items, today=TODAY).recommend(profile, limit=3)
    assert picks[0].item_id == 9
    assert picks[0].discovery
    assert picks[0].reasons[0] == "you might also like: residency"
