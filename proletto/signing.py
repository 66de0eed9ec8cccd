"""Django's signers, made cheap enough for links signed by the thousand (the weekly digest
signs several per reader). Shared by every app that puts a signed link in an email."""

import hashlib
import hmac

from django.core import signing
from django.utils.encoding import force_bytes

_signers: dict[str, signing.Signer] = {}


class FastSigner(signing.Signer):
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


class FastTimestampSigner(FastSigner, signing.TimestampSigner):
    """The same fast signature, over "value:timestamp": for links that expire."""


def signer(salt: str, kind: type[signing.Signer] = FastSigner) -> signing.Signer:
    # Built lazily (SECRET_KEY is read at construction) and reused: construction is the
    # expensive part of signing a short value.
    if salt not in _signers:
        _signers[salt] = kind(salt=salt)
    return _signers[salt]
