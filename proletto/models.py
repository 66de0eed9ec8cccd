import zoneinfo

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
    if value and not (len(value) == 2 and value.isalpha() and value.isupper()):
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


# --- scheduling runtime (proletto/scheduling) ------------------------------------------------


class SchedulerLease(models.Model):
    """Who leads the schedulers: one row, renewed by conditional UPDATE by its holder.

    `heartbeat_at` is written on every renewal; /healthz goes 503 when it is stale.
    """

    name = models.CharField(max_length=50, primary_key=True)
    holder = models.CharField(max_length=200, blank=True)
    acquired_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name}: {self.holder or 'nobody'}"


class SchedulerInstance(models.Model):
    """Every running `runapscheduler` process, leader or standby, seen at its last beat: how
    the status page knows how many standbys are ready to take over."""

    holder = models.CharField(max_length=200, unique=True)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return self.holder


class RunRequest(models.Model):
    """A 'run now' asked for from the admin (or another app); the leader executes it."""

    class Status(models.TextChoices):
        PENDING = "pending"
        CLAIMED = "claimed"
        DONE = "done"
        FAILED = "failed"

    job = models.ForeignKey(
        "django_apscheduler.DjangoJob", on_delete=models.CASCADE, related_name="run_requests"
    )
    requested_by = models.CharField(max_length=200)
    requested_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    claimed_by = models.CharField(max_length=200, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    execution = models.ForeignKey(
        "django_apscheduler.DjangoJobExecution",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["requested_at"],
                condition=models.Q(status="pending"),
                name="runrequest_pending",
            )
        ]
        # The job controls' permissions live here: DjangoJob is django-apscheduler's model.
        permissions = [
            ("run_job", "Can run a scheduled job now"),
            ("pause_job", "Can pause and resume scheduled jobs"),
        ]

    def __str__(self):
        return f"run {self.job_id} ({self.status})"


# --- health monitoring (proletto/monitoring) ----------------------------------------------------


class CheckStatus(models.TextChoices):
    OK = "ok", "OK"
    WARNING = "warning", "Warning"
    FAILING = "failing", "Failing"


class HealthCheckState(models.Model):
    """The current state of one check, and what the admins were last told about it."""

    name = models.CharField(max_length=120, primary_key=True)
    status = models.CharField(max_length=10, choices=CheckStatus)
    since = models.DateTimeField(help_text="When the check entered its current status.")
    value = models.CharField(max_length=100, blank=True)
    summary = models.CharField(max_length=300)
    checked_at = models.DateTimeField()
    # Alerting: the last status the admins were emailed about, and when; a check that
    # flaps inside HEALTH_ALERT_MIN_INTERVAL_SECONDS sends no new email until it settles.
    alerted_status = models.CharField(max_length=10, choices=CheckStatus, default=CheckStatus.OK)
    alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name}: {self.status}"


class HealthCheckResult(models.Model):
    """One run of one check, kept for HEALTH_RESULT_RETENTION_DAYS."""

    name = models.CharField(max_length=120)
    status = models.CharField(max_length=10, choices=CheckStatus)
    value = models.CharField(max_length=100, blank=True)
    summary = models.CharField(max_length=300)
    checked_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["name", "-checked_at"], name="healthresult_name_time"),
            models.Index(fields=["checked_at"], name="healthresult_time"),
        ]

    def __str__(self):
        return f"{self.name} {self.status} at {self.checked_at:%Y-%m-%d %H:%M}"


class HealthAlert(models.Model):
    """An email to the admins about a check that changed state (or recovered)."""

    name = models.CharField(max_length=120)
    from_status = models.CharField(max_length=10, choices=CheckStatus)
    to_status = models.CharField(max_length=10, choices=CheckStatus)
    summary = models.CharField(max_length=300)
    created_at = models.DateTimeField()
    recipients = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["-created_at"], name="healthalert_time")]

    def __str__(self):
        return f"{self.name}: {self.from_status} -> {self.to_status}"
