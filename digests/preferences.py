"""The artist's preferences, changed from the signed link every digest and marketing email
carries (proletto/preferences_link.py): mediums, interests, country, time zone, and the
weekly digest on, off or paused for some weeks."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

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
