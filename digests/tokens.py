"""Signed tokens in digest links: unguessable, tamper-proof, and carrying only ids.

The open pixel, each click link and the unsubscribe link name what they act on inside a
signed value, so nobody can forge an unsubscribe for someone else or turn the click
redirect into an open redirect (the target URL is never in the link; it is looked up).
A digest of 10,000 users signs 70,000 links, so the values are plain "id" or "id.id"
strings under Django's HMAC signer, with no JSON or compression around them.
"""

import hashlib
import hmac
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.utils.encoding import force_bytes

OPEN_SALT = "digests.open"
CLICK_SALT = "digests.click"
UNSUBSCRIBE_SALT = "digests.unsubscribe"
PREFERENCES_SALT = "digests.preferences"

_signers: dict[str, signing.Signer] = {}


class BadToken(Exception):
    pass


class _Signer(signing.Signer):
    """Django's Signer, with its HMAC key derived once instead of on every signature.

    Signer.signature() derives the key (a SHA-256 of salt and SECRET_KEY) and then computes
    the HMAC: for a short value that is two thirds of the work, and a digest run signs seven
    links per user. Signatures are byte for byte Django's (tests/digests/test_tokens.py
    checks it); verification (unsign, which passes each key, SECRET_KEY_FALLBACKS included)
    is Django's own code.
    """

    def __init__(self, *, salt: str):
        super().__init__(salt=salt)
        # As django.utils.crypto.salted_hmac(self.salt + "signer", value, self.key).
        derived = hashlib.sha256(force_bytes(self.salt + "signer") + force_bytes(self.key))
        self._hmac = hmac.new(derived.digest(), digestmod=hashlib.sha256)

    def signature(self, value, key=None):
        if key is not None or self.algorithm != "sha256":
            return super().signature(value, key)
        mac = self._hmac.copy()
        mac.update(force_bytes(value))
        return signing.b64_encode(mac.digest()).decode()


class _TimestampSigner(_Signer, signing.TimestampSigner):
    """The same fast signature, over "value:timestamp": for links that expire."""


def _signer(salt: str, kind: type[signing.Signer] = _Signer) -> signing.Signer:
    # Built lazily (SECRET_KEY is read at construction) and reused: construction is the
    # expensive part of signing a short value.
    if salt not in _signers:
        _signers[salt] = kind(salt=salt)
    return _signers[salt]


def _ids(token: str, salt: str, count: int) -> list[int]:
    try:
        value = _signer(salt).unsign(token)
    except signing.BadSignature:
        raise BadToken("this link is not valid (it may have been cut or changed)") from None
    parts = value.split(".")
    if len(parts) != count or not all(part.isdigit() for part in parts):
        raise BadToken("this link is not valid")
    return [int(part) for part in parts]


def open_token(digest_id: int) -> str:
    return _signer(OPEN_SALT).sign(str(digest_id))


def read_open_token(token: str) -> int:
    return _ids(token, OPEN_SALT, 1)[0]


def click_token(digest_id: int, opportunity_id: int) -> str:
    return _signer(CLICK_SALT).sign(f"{digest_id}.{opportunity_id}")


def read_click_token(token: str) -> tuple[int, int]:
    digest_id, opportunity_id = _ids(token, CLICK_SALT, 2)
    return digest_id, opportunity_id


def unsubscribe_token(user_id: int) -> str:
    return _signer(UNSUBSCRIBE_SALT).sign(str(user_id))


def read_unsubscribe_token(token: str) -> int:
    return _ids(token, UNSUBSCRIBE_SALT, 1)[0]


# The "manage preferences" link opens a page that changes the profile without a password, so
# unlike the links above it expires (PREFERENCES_LINK_MAX_AGE_DAYS): a forwarded or leaked
# email stops being a key to the account. Every new email carries a fresh one.
def preferences_token(user_id: int) -> str:
    return _signer(PREFERENCES_SALT, _TimestampSigner).sign(str(user_id))


def read_preferences_token(token: str) -> int:
    signer = _signer(PREFERENCES_SALT, _TimestampSigner)
    max_age = timedelta(days=settings.PREFERENCES_LINK_MAX_AGE_DAYS)
    try:
        value = signer.unsign(token, max_age=max_age)
    except signing.SignatureExpired:
        raise BadToken(
            "this link has expired: the newest email from Proletto has a fresh one"
        ) from None
    except signing.BadSignature:
        raise BadToken("this link is not valid (it may have been cut or changed)") from None
    if not value.isdigit():
        raise BadToken("this link is not valid")
    return int(value)
