"""The "manage preferences" link every digest and marketing email carries.

It opens a page that changes the artist's profile without a password, so the link itself is
the key: signed (it names one user and cannot be changed to name another) and, unlike the
digest's tracking links, expiring after PREFERENCES_LINK_MAX_AGE_DAYS, so a forwarded or
leaked email stops opening the account. Every new email carries a fresh one.
"""

import functools
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

from proletto.models import User
from proletto.signing import FastTimestampSigner, signer

PREFERENCES_SALT = "digests.preferences"


class BadPreferencesLink(Exception):
    """The link is cut, changed, expired or names no active account (one-line message)."""


def preferences_token(user_id: int) -> str:
    return signer(PREFERENCES_SALT, FastTimestampSigner).sign(str(user_id))


def read_preferences_token(token: str) -> int:
    max_age = timedelta(days=settings.PREFERENCES_LINK_MAX_AGE_DAYS)
    try:
        value = signer(PREFERENCES_SALT, FastTimestampSigner).unsign(token, max_age=max_age)
    except signing.SignatureExpired:
        raise BadPreferencesLink(
            "this link has expired: the newest email from Proletto has a fresh one"
        ) from None
    except signing.BadSignature:
        raise BadPreferencesLink(
            "this link is not valid (it may have been cut or changed)"
        ) from None
    if not value.isdigit():
        raise BadPreferencesLink("this link is not valid")
    return int(value)


@functools.lru_cache(maxsize=4)
def _link_template(site_url: str) -> str:
    # reverse() once: the digest run builds one link per reader.
    return site_url + reverse("digests:preferences", args=["TOKEN"])


def preferences_url(user_id: int) -> str:
    """The absolute "manage preferences" link for an email to this user (fresh expiry)."""
    return _link_template(settings.SITE_URL).replace("TOKEN", preferences_token(user_id))


def pro_url(user_id: int) -> str:
    """/pro/ for this user: checkout names their account without asking for an email."""
    return f"{settings.SITE_URL}{reverse('pro:plans')}?account={preferences_token(user_id)}"


def user_for_preferences_token(token: str) -> User:
    """The active user a preferences link names; BadPreferencesLink otherwise."""
    user = User.objects.filter(pk=read_preferences_token(token), is_active=True).first()
    if user is None:
        raise BadPreferencesLink("this link names no account")
    return user
