"""Signed tokens in digest links: unguessable, tamper-proof, and carrying only ids.

The open pixel, each click link and the unsubscribe link name what they act on inside a
signed value, so nobody can forge an unsubscribe for someone else or turn the click
redirect into an open redirect (the target URL is never in the link; it is looked up).
A digest of 10,000 users signs 70,000 links, so the values are plain "id" or "id.id"
strings under Django's HMAC signer, with no JSON or compression around them.
"""

import re

from django.core import signing
from django.urls import reverse

from outreach.consent import UNSUBSCRIBE_SALT
from proletto.signing import signer as _signer

OPEN_SALT = "digests.open"
CLICK_SALT = "digests.click"
# One salt per answer, so a "more like this" link cannot be turned into "not for me".
FEEDBACK_SALTS = {"more": "digests.feedback.more", "less": "digests.feedback.less"}


class BadToken(Exception):
    pass


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


def feedback_token(digest_id: int, opportunity_id: int, signal: str) -> str:
    return _signer(FEEDBACK_SALTS[signal]).sign(f"{digest_id}.{opportunity_id}")


def card_tokens(digest_id: int, opportunity_id: int) -> tuple[str, str, str]:
    """(click_token, feedback_token "more", feedback_token "less") of one card of a digest,
    the same strings. The three sign one value: it is written once and signed through
    signature() itself, without sign()'s layers around it (a run signs 15 a reader)."""
    value = f"{digest_id}.{opportunity_id}"
    click, more, less = (
        _signer(CLICK_SALT),
        _signer(FEEDBACK_SALTS["more"]),
        _signer(FEEDBACK_SALTS["less"]),
    )
    return (
        f"{value}{click.sep}{click.signature(value)}",
        f"{value}{more.sep}{more.signature(value)}",
        f"{value}{less.sep}{less.signature(value)}",
    )


def read_feedback_token(token: str, signal: str) -> tuple[int, int]:
    if signal not in FEEDBACK_SALTS:
        raise BadToken("this link is not valid")
    digest_id, opportunity_id = _ids(token, FEEDBACK_SALTS[signal], 2)
    return digest_id, opportunity_id


def unsubscribe_token(user_id: int) -> str:
    return _signer(UNSUBSCRIBE_SALT).sign(str(user_id))


def read_unsubscribe_token(token: str) -> int:
    return _ids(token, UNSUBSCRIBE_SALT, 1)[0]


REDACTED = "TOKEN-REMOVED"
# What a signed value may contain: the ids, ":" and the base64url signature.
_TOKEN_CHARS = r"[A-Za-z0-9_\-:.%]+?"


def _link_patterns() -> list[re.Pattern]:
    patterns = []
    for name, args in (
        ("digests:open", []),
        ("digests:click", []),
        ("digests:unsubscribe", []),
        ("digests:feedback", ["more"]),
        ("digests:feedback", ["less"]),
    ):
        before, after = reverse(name, args=[*args, REDACTED]).split(REDACTED)
        patterns.append(re.compile(f"({re.escape(before)}){_TOKEN_CHARS}({re.escape(after)})"))
    return patterns


def tokens_redact(text: str) -> str:
    """`text` (an email's HTML, text or headers) with the token of every open, click,
    feedback and unsubscribe link replaced by an inert placeholder: what staff see in a
    preview cannot unsubscribe the reader or count as their click or answer."""
    for pattern in _link_patterns():
        text = pattern.sub(rf"\g<1>{REDACTED}\g<2>", text)
    return text
