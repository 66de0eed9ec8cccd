import pytest
from django.core import signing

from digests import tokens
from proletto.preferences_link import PREFERENCES_SALT, preferences_token, read_preferences_token
from proletto.signing import signer


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


@pytest.mark.parametrize("value", ["", "7", "12.3456", "x" * 64, "y" * 200, "été ✓"])
def test_the_fast_signer_signs_any_value_exactly_as_djangos_signer(value):
    # Values shorter and longer than SHA-256's 64-byte block, and non-ASCII text.
    assert signer("tests.any-value").sign(value) == signing.Signer(salt="tests.any-value").sign(
        value
    )


@pytest.mark.parametrize("signal", ["more", "less"])
def test_feedback_tokens_are_signed_as_djangos_signer_and_read_back(signal):
    token = tokens.feedback_token(12, 3456, signal)
    assert token == signing.Signer(salt=tokens.FEEDBACK_SALTS[signal]).sign("12.3456")
    assert tokens.read_feedback_token(token, signal) == (12, 3456)


def test_a_preferences_token_is_signed_as_djangos_timestamp_signer_and_read_back(monkeypatch):
    monkeypatch.setattr(signing.time, "time", lambda: 1_800_000_000.0)
    token = preferences_token(789)
    assert token == signing.TimestampSigner(salt=PREFERENCES_SALT).sign("789")
    assert read_preferences_token(token) == 789
