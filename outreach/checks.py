"""Start-up checks for email delivery settings."""

from django.conf import settings
from django.core.checks import Error, register


@register(deploy=True)
def check_webhook_secret(app_configs, **kwargs):
    # A deploy check: without the secret the webhook answers 503 to everything
    # (outreach.views.webhook_not_configured), which `check --deploy` must not call healthy.
    if not settings.DEBUG and not settings.ANYMAIL.get("WEBHOOK_SECRET"):
        return [
            Error(
                "ANYMAIL_WEBHOOK_SECRET is empty: ESP tracking webhooks refuse every event "
                "(503), so bounces, complaints and deliveries are never recorded.",
                hint='Set ANYMAIL_WEBHOOK_SECRET="user:long-random-password" and put the same '
                "credentials in the ESP's webhook URL.",
                id="outreach.E004",
            )
        ]
    return []


@register(deploy=True)
def check_unsubscribe_url(app_configs, **kwargs):
    # RFC 8058: mail providers only offer one-click unsubscribe for an https List-Unsubscribe
    # URL, and every marketing email's URL is built on SITE_URL.
    if not settings.DEBUG and not settings.SITE_URL.startswith("https://"):
        return [
            Error(
                f"SITE_URL={settings.SITE_URL!r} is not https: marketing emails' one-click "
                "unsubscribe (RFC 8058) needs an https List-Unsubscribe URL.",
                hint="Serve the site over https and set SITE_URL=https://<your host>.",
                id="outreach.E005",
            )
        ]
    return []


@register()
def check_outreach_settings(app_configs, **kwargs):
    problems = []
    for name in ("EMAIL_MAX_ATTEMPTS", "EMAIL_RELAY_BATCH_SIZE", "EMAIL_RELAY_CONCURRENCY"):
        if getattr(settings, name) < 1:
            problems.append(Error(f"{name} must be at least 1", id="outreach.E001"))
    if settings.EMAIL_RELAY_PREFETCH < 0:
        problems.append(Error("EMAIL_RELAY_PREFETCH must be 0 or more", id="outreach.E001"))
    if settings.EMAIL_RETRY_FACTOR < 1 or settings.EMAIL_RETRY_BASE_SECONDS <= 0:
        problems.append(
            Error(
                "EMAIL_RETRY_BASE_SECONDS must be > 0 and EMAIL_RETRY_FACTOR >= 1",
                id="outreach.E002",
            )
        )
    if not problems:
        problems += _claim_timeout_problems()
    return problems


def _claim_timeout_problems():
    # A relay renews its claims every quarter of the claim timeout; a send takes at most one
    # ESP deadline. A claim shorter than four deadlines could lapse while a send is still in
    # flight and let another relay send the row twice.
    send_timeout = max(settings.EMAIL_TIMEOUT, settings.ANYMAIL.get("REQUESTS_TIMEOUT") or 0)
    needed = 4 * send_timeout
    if settings.EMAIL_CLAIM_TIMEOUT_SECONDS < needed:
        return [
            Error(
                f"EMAIL_CLAIM_TIMEOUT_SECONDS={settings.EMAIL_CLAIM_TIMEOUT_SECONDS} is shorter "
                f"than four ESP deadlines ({needed:.0f} s): a slow relay's rows could be sent "
                "twice.",
                hint="Raise EMAIL_CLAIM_TIMEOUT_SECONDS or lower EMAIL_TIMEOUT.",
                id="outreach.E003",
            )
        ]
    return []
