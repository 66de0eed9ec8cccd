"""The "manage preferences" link: signed, expiring, naming one user."""

import datetime as dt

import pytest
import time_machine
from django.core import signing

from digests.tokens import unsubscribe_token
from proletto.preferences_link import (
    PREFERENCES_SALT,
    BadPreferencesLink,
    preferences_token,
    read_preferences_token,
)

# --- the "manage preferences" link: signed and expiring ----------------------------------


def test_a_preferences_token_names_its_user():
    assert read_preferences_token(preferences_token(42)) == 42


def test_a_preferences_token_works_until_its_max_age(settings):
    settings.PREFERENCES_LINK_MAX_AGE_DAYS = 30
    with time_machine.travel(dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC), tick=False):
        token = preferences_token(42)
    with time_machine.travel(dt.datetime(2026, 3, 31, 8, tzinfo=dt.UTC), tick=False):
        assert read_preferences_token(token) == 42


def test_an_expired_preferences_token_is_refused_saying_so(settings):
    settings.PREFERENCES_LINK_MAX_AGE_DAYS = 30
    with time_machine.travel(dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC), tick=False):
        token = preferences_token(42)
    with time_machine.travel(dt.datetime(2026, 4, 1, 8, 0, 1, tzinfo=dt.UTC), tick=False):
        with pytest.raises(BadPreferencesLink, match="expired"):
            read_preferences_token(token)


def test_a_preferences_token_with_another_user_id_is_refused():
    value, timestamp, signature = preferences_token(42).split(":")
    with pytest.raises(BadPreferencesLink, match="not valid"):
        read_preferences_token(f"43:{timestamp}:{signature}")


def test_a_preferences_token_with_a_later_timestamp_is_refused():
    value, timestamp, signature = preferences_token(42).split(":")
    later = signing.b62_encode(signing.b62_decode(timestamp) + 86400)
    with pytest.raises(BadPreferencesLink, match="not valid"):
        read_preferences_token(f"{value}:{later}:{signature}")


def test_an_unsubscribe_token_does_not_open_the_preferences_page():
    with pytest.raises(BadPreferencesLink):
        read_preferences_token(unsubscribe_token(42))


def test_the_preferences_token_is_signed_exactly_as_djangos_timestamp_signer_signs():
    token = preferences_token(42)
    assert signing.TimestampSigner(salt=PREFERENCES_SALT).unsign(token) == "42"
