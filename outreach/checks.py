"""Start-up checks for email delivery settings."""

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def check_outreach_settings(app_configs, **kwargs):
    problems = []
    if not settings.DEBUG and not settings.ANYMAIL.get("WEBHOOK_SECRET"):
        problems.append(
            Warning(
                "ANYMAIL_WEBHOOK_SECRET is empty: ESP tracking webhooks accept anyone's events.",
                hint='Set ANYMAIL_WEBHOOK_SECRET="user:long-random-password" and put the same '
                "credentials in the ESP's webhook URL.",
                id="outreach.W001",
            )
        )
    for name in ("EMAIL_MAX_ATTEMPTS", "EMAIL_RELAY_BATCH_SIZE", "EMAIL_RELAY_CONCURRENCY"):
        if getattr(settings, name) < 1:
            problems.append(Error(f"{name} must be at least 1", id="outreach.E001"))
    if settings.EMAIL_RETRY_FACTOR < 1 or settings.EMAIL_RETRY_BASE_SECONDS <= 0:
        problems.append(
            Error(
                "EMAIL_RETRY_BASE_SECONDS must be > 0 and EMAIL_RETRY_FACTOR >= 1",
                id="outreach.E002",
            )
        )
    return problems
