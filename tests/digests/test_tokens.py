import datetime as dt

import pytest
import time_machine
from django.core import signing

from digests import tokens


def test_an_unsubscribe_token_names_its_user():
    assert tokens.read_unsubscribe_token(tokens.unsubscribe_token(42)) == 42


def test_a_changed_unsubscribe_token_is_refused():
    payload_43 = tokens.unsubscribe_token(43).split(":")[0]
    signature_42 = tokens.unsubscribe_token(42).split(":", 1)[1]
    assert payload_43 == "43"
    forged = f"{payload_43}:{signature_42}"
    with pytest.raises(tokens.BadToken):
        tokens.read_unsubscribe_token(forged)


def test_a_token_for_one_purpose_is_refused_for_another():
    with pytest.raises(tokens.BadToken):
        tokens.read_unsubscribe_token(tokens.open_token(42))


def test_a_click_token_names_digest_and_opportunity():
    assert tokens.read_click_token(tokens.click_token(7, 99)) == (7, 99)


def test_garbage_is_refused_with_a_clear_error():
    with pytest.raises(tokens.BadToken, match="not valid"):
        tokens.read_click_token("nonsense")


@pytest.mark.parametrize(
    ("make", "salt", "value"),
    [
        (lambda: tokens.open_token(12), tokens.OPEN_SALT, "12"),
        (lambda: tokens.click_token(12, 3456), tokens.CLICK_SALT, "12.3456"),
        (lambda: tokens.unsubscribe_token(789), tokens.UNSUBSCRIBE_SALT, "789"),
    ],
)
def test_tokens_are_signed_exactly_as_djangos_signer_signs(make, salt, value):
    assert make() == signing.Signer(salt=salt).sign(value)


# --- the "manage preferences" link: signed and expiring ----------------------------------


def test_a_preferences_token_names_its_user():
    assert tokens.read_preferences_token(tokens.preferences_token(42)) == 42


def test_a_preferences_token_works_until_its_max_age(settings):
    settings.PREFERENCES_LINK_MAX_AGE_DAYS = 30
    with time_machine.travel(dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC), tick=False):
        token = tokens.preferences_token(42)
    with time_machine.travel(dt.datetime(2026, 3, 31, 8, tzinfo=dt.UTC), tick=False):
        assert tokens.read_preferences_token(token) == 42


def test_an_expired_preferences_token_is_refused_saying_so(settings):
    settings.PREFERENCES_LINK_MAX_AGE_DAYS = 30
    with time_machine.travel(dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC), tick=False):
        token = tokens.preferences_token(42)
    with time_machine.travel(dt.datetime(2026, 4, 1, 8, 0, 1, tzinfo=dt.UTC), tick=False):
        with pytest.raises(tokens.BadToken, match="expired"):
            tokens.read_preferences_token(token)


def test_a_preferences_token_with_another_user_id_is_refused():
    value, timestamp, signature = tokens.preferences_token(42).split(":")
    with pytest.raises(tokens.BadToken, match="not valid"):
        tokens.read_preferences_token(f"43:{timestamp}:{signature}")


def test_a_preferences_token_with_a_later_timestamp_is_refused():
    value, timestamp, signature = tokens.preferences_token(42).split(":")
    later = signing.b62_encode(signing.b62_decode(timestamp) + 86400)
    with pytest.raises(tokens.BadToken, match="not valid"):
        tokens.read_preferences_token(f"{value}:{later}:{signature}")


def test_an_unsubscribe_token_does_not_open_the_preferences_page():
    with pytest.raises(tokens.BadToken):
        tokens.read_preferences_token(tokens.unsubscribe_token(42))


def test_the_preferences_token_is_signed_exactly_as_djangos_timestamp_signer_signs():
    token = tokens.preferences_token(42)
    assert signing.TimestampSigner(salt=tokens.PREFERENCES_SALT).unsign(token) == "42"
