"""Start-up checks for Stripe: production refuses to run without its secrets (`check --deploy`),
and never with its API calls pointed anywhere but Stripe over https."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def check_stripe_secrets(app_configs, **kwargs):
    problems = []
    if not settings.STRIPE_SECRET_KEY:
        problems.append(
            Error(
                "STRIPE_SECRET_KEY is empty: /pro/ cannot start a checkout.",
                hint="Set STRIPE_SECRET_KEY to the account's secret key (sk_live_...).",
                id="billing.E001",
            )
        )
    if not settings.STRIPE_WEBHOOK_SECRET:
        problems.append(
            Error(
                "STRIPE_WEBHOOK_SECRET is empty: the Stripe webhook answers 503 and nobody "
                "who pays becomes Pro.",
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


@register()
def check_stripe_settings(app_configs, **kwargs):
    if settings.STRIPE_TIMEOUT_SECONDS <= 0:
        return [Error("STRIPE_TIMEOUT_SECONDS must be > 0", id="billing.E004")]
    return []
