"""The artist's preferences, changed from the signed link every digest and marketing email
carries: no password, so the link itself (signed, expiring, naming one user) is the key."""

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from digests import tokens
from digests.errors import DigestsError


class DigestChoice:
    ON = "on"
    PAUSED = "paused"
    OFF = "off"


@dataclass(frozen=True)
class PreferencesChange:
    mediums: list[str]
    interests: list[str]
    country: str
    timezone: str
    digest: str
    pause_weeks: int | None = None


@functools.lru_cache(maxsize=4)
def _link_template(site_url: str) -> str:
    # reverse() once: the digest run builds one link per reader.
    return site_url + reverse("digests:preferences", args=["TOKEN"])


def preferences_url(user_id: int) -> str:
    """The absolute "manage preferences" link for an email to this user (fresh expiry)."""
    return _link_template(settings.SITE_URL).replace("TOKEN", tokens.preferences_token(user_id))


def user_for_preferences_token(token: str):
    """The active user a preferences link names; BadToken or DigestsError otherwise."""
    user_id = tokens.read_preferences_token(token)
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise DigestsError("this link names no account")
    return user


def digest_choice(user, *, now: datetime) -> tuple[str, int | None]:
    """What the page shows for the digest: on, off, or paused (with whole weeks left)."""
    if not user.digest_opt_in:
        return DigestChoice.OFF, None
    if user.digest_paused_until and user.digest_paused_until > now:
        left = user.digest_paused_until - now
        return DigestChoice.PAUSED, max(1, -(-left.days // 7))
    return DigestChoice.ON, None


def artist_preferences_update(*, user, change: PreferencesChange, now: datetime | None = None):
    """Apply the preferences form to `user`: validated by the model's own rules, saved in one
    UPDATE of these fields only, so the next digest run sees them and nothing else moves."""
    now = now or timezone.now()
    user.mediums = list(change.mediums)
    user.interests = list(change.interests)
    user.country = change.country
    user.timezone = change.timezone
    user.digest_opt_in = change.digest != DigestChoice.OFF
    if change.digest == DigestChoice.PAUSED:
        if not change.pause_weeks or change.pause_weeks < 1:
            raise DigestsError("say for how many weeks to pause the digest")
        user.digest_paused_until = now + timedelta(weeks=change.pause_weeks)
    else:
        user.digest_paused_until = None
    fields = ["mediums", "interests", "country", "timezone", "digest_opt_in", "digest_paused_until"]
    user.full_clean(exclude=[f.name for f in user._meta.fields if f.name not in fields])
    with transaction.atomic():
        user.save(update_fields=fields)
    return user
