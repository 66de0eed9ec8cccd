"""The User model (an artist with the profile the digest is matched against) and its validators."""

import zoneinfo

import pycountry
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models

from proletto.vocabulary import MEDIUMS, normalise_tag


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            "%(value)s is not an IANA time zone name (e.g. Europe/Rome, America/New_York).",
            code="invalid_time_zone",
            params={"value": value},
        )


def validate_mediums(value) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError("Mediums must be a list of words.", code="invalid_mediums")
    unknown = sorted(set(value) - set(MEDIUMS))
    if unknown:
        raise ValidationError(
            "Unknown medium(s): %(unknown)s. Known: %(known)s.",
            code="unknown_medium",
            params={"unknown": ", ".join(unknown), "known": ", ".join(sorted(MEDIUMS))},
        )


def validate_tags(value) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError("Interests must be a list of words.", code="invalid_tags")


def validate_country_code(value: str) -> None:
    # A real ISO 3166-1 code, not any two capitals ("NY" is a state, "UK" not a code).
    if value and not (len(value) == 2 and pycountry.countries.get(alpha_2=value)):
        raise ValidationError(
            "%(value)s is not a two-letter ISO country code (e.g. IT, US).",
            code="invalid_country",
            params={"value": value},
        )


class User(AbstractUser):
    """A Proletto account: an artist, with the profile the weekly digest is matched against."""

    class CareerStage(models.TextChoices):
        STUDENT = "student", "Student"
        EMERGING = "emerging", "Emerging"
        MID_CAREER = "mid-career", "Mid-career"
        ESTABLISHED = "established", "Established"

    display_name = models.CharField(max_length=150, blank=True)
    mediums = models.JSONField(
        default=list, blank=True, validators=[validate_mediums], help_text="From the vocabulary."
    )
    interests = models.JSONField(
        default=list, blank=True, validators=[validate_tags], help_text="Free tags."
    )
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(
        max_length=2, blank=True, validators=[validate_country_code], help_text="ISO 3166 code."
    )
    career_stage = models.CharField(max_length=20, choices=CareerStage, blank=True)
    timezone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone], help_text="IANA name."
    )
    digest_opt_in = models.BooleanField(
        default=True, help_text="Wants the weekly digest (a Pro feature)."
    )
    unsubscribed_at = models.DateTimeField(
        null=True, blank=True, help_text="Set by the unsubscribe link; no marketing email after."
    )
    digest_paused_until = models.DateTimeField(
        null=True, blank=True, help_text="No weekly digest before this instant (set by the artist)."
    )

    class Meta:
        indexes = [models.Index(fields=["timezone"], name="user_timezone_idx")]

    def __str__(self):
        return self.display_name or self.username

    def clean(self):
        super().clean()
        self.interests = sorted({normalise_tag(tag) for tag in self.interests if tag.strip()})
        self.mediums = sorted(set(self.mediums))

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def is_unsubscribed(self) -> bool:
        return self.unsubscribed_at is not None
