import pytest
from django.core.exceptions import ValidationError

from proletto.models import User
from proletto.vocabulary import normalise_medium

pytestmark = pytest.mark.django_db


def make_user(**fields):
    defaults = {"username": "giulia", "email": "giulia@example.com"}
    return User(**{**defaults, **fields})


def test_it_rejects_an_unknown_time_zone():
    user = make_user(timezone="Europe/Atlantis")
    with pytest.raises(ValidationError) as excinfo:
        user.full_clean()
    assert "Europe/Atlantis is not an IANA time zone name" in str(
        excinfo.value.message_dict["timezone"]
    )


def test_it_accepts_an_iana_time_zone():
    user = make_user(timezone="Pacific/Auckland")
    user.set_password("pw-123456789")
    user.full_clean()
    user.save()
    assert User.objects.get().zone.key == "Pacific/Auckland"


def test_it_rejects_mediums_outside_the_vocabulary():
    user = make_user(mediums=["painting", "interpretive dance"])
    with pytest.raises(ValidationError) as excinfo:
        user.full_clean()
    assert "Unknown medium(s): interpretive dance" in str(excinfo.value.message_dict["mediums"])


def test_it_rejects_a_country_that_is_not_an_iso_code():
    with pytest.raises(ValidationError) as excinfo:
        make_user(country="Italy").full_clean()
    assert "country" in excinfo.value.message_dict


def test_it_normalises_interests_to_sorted_lowercase_tags():
    user = make_user(interests=["Residency ", "ecology", "residency", "  "])
    user.set_password("pw-123456789")
    user.full_clean()
    assert user.interests == ["ecology", "residency"]


def test_a_new_user_is_opted_in_and_subscribed():
    user = make_user()
    assert user.digest_opt_in is True
    assert user.is_unsubscribed is False


def test_display_name_is_the_string_form_when_set():
    assert str(make_user(display_name="Giulia Bianchi")) == "Giulia Bianchi"
    assert str(make_user()) == "giulia"


@pytest.mark.parametrize(
    ("word", "medium"),
    [
        ("Oil painting", "painting"),
        ("public art", "public-art"),
        ("Photo", "photography"),
        ("interpretive dance", None),
    ],
)
def test_feed_words_map_onto_the_medium_vocabulary(word, medium):
    assert normalise_medium(word) == medium
