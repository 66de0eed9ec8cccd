"""Signed tokens in digest links: unguessable, tamper-proof, and carrying only ids.

The open pixel, each click link and the unsubscribe link name what they act on inside a
signed value, so nobody can forge an unsubscribe for someone else or turn the click
redirect into an open redirect (the target URL is never in the link; it is looked up).
"""

from django.core import signing

OPEN_SALT = "digests.open"
CLICK_SALT = "digests.click"
UNSUBSCRIBE_SALT = "digests.unsubscribe"


class BadToken(Exception):
    pass


def _dumps(value, salt: str) -> str:
    return signing.dumps(value, salt=salt, compress=False)


def _loads(token: str, salt: str):
    try:
        return signing.loads(token, salt=salt)
    except signing.BadSignature:
        raise BadToken("this link is not valid (it may have been cut or changed)") from None


def open_token(digest_id: int) -> str:
    return _dumps(digest_id, OPEN_SALT)


def read_open_token(token: str) -> int:
    value = _loads(token, OPEN_SALT)
    if not isinstance(value, int):
        raise BadToken("this link is not valid")
    return value


def click_token(digest_id: int, opportunity_id: int) -> str:
    return _dumps([digest_id, opportunity_id], CLICK_SALT)


def read_click_token(token: str) -> tuple[int, int]:
    value = _loads(token, CLICK_SALT)
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)):
        raise BadToken("this link is not valid")
    return value[0], value[1]


def unsubscribe_token(user_id: int) -> str:
    return _dumps(user_id, UNSUBSCRIBE_SALT)


def read_unsubscribe_token(token: str) -> int:
    value = _loads(token, UNSUBSCRIBE_SALT)
    if not isinstance(value, int):
        raise BadToken("this link is not valid")
    return value
