"""Start-up checks for the Stripe settings: a bad value fails `manage.py check` with a line an
operator can act on, instead of events that quietly wait in the admin."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register()
def check_stripe_api_settings(app_configs, **kwargs):
    timeout = settings.STRIPE_TIMEOUT_SECONDS
    if not timeout > 0:
        return [
            Error(
                f"STRIPE_TIMEOUT_SECONDS={timeout!r} must be a positive number.",
                id="billing.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_stripe_secret_key(app_configs, **kwargs):
    if settings.STRIPE_SECRET_KEY:
        return []
    return [
        Warning(
            "STRIPE_SECRET_KEY is empty: invoices whose lines do not say the period paid for, "
            "and events for subscriptions not linked here, will wait in the admin as needing "
            "attention.",
            hint="Set STRIPE_SECRET_KEY (a restricted key that can read subscriptions).",
            id="billing.W001",
        )
    ]
