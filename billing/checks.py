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


@register(Tags.security, deploy=True)
def check_stripe_checkout_settings(app_configs, **kwargs):
    """What /pro/ and the checkout webhook need in production."""
    problems = []
    if not settings.STRIPE_WEBHOOK_SECRET:
        problems.append(
            Error(
                "STRIPE_WEBHOOK_SECRET is empty: the Stripe webhook answers 503 and nobody "
                "who pays at /pro/ becomes Pro.",
                hint="Set it to the signing secret (whsec_...) of /billing/stripe/webhook/.",
                id="billing.E002",
            )
        )
    if settings.STRIPE_API_BASE and not settings.STRIPE_API_BASE.startswith("https://"):
        problems.append(
            Error(
                f"STRIPE_API_BASE={settings.STRIPE_API_BASE!r}: Stripe calls would go to a "
                "stand-in or in clear text.",
                hint="Leave STRIPE_API_BASE empty in production.",
                id="billing.E003",
            )
        )
    return problems
