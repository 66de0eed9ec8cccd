"""Models of health monitoring (proletto/monitoring): check states, results and alerts."""

from django.db import models


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
