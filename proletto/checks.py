"""Start-up checks (`manage.py check`, and every command that runs checks)."""

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def check_email_settings(app_configs, **kwargs):
    problems = []
    if settings.EMAIL_ESP == "sendgrid" and not settings.ANYMAIL.get("SENDGRID_API_KEY"):
        problems.append(
            Warning(
                "EMAIL_ESP is sendgrid but SENDGRID_API_KEY is empty: emails will fail.",
                hint="Set SENDGRID_API_KEY, or EMAIL_ESP=file for development.",
                id="proletto.W001",
            )
        )
    if "@" not in settings.DEFAULT_FROM_EMAIL:
        problems.append(
            Error(
                f"DEFAULT_FROM_EMAIL={settings.DEFAULT_FROM_EMAIL!r} is not an email address.",
                id="proletto.E001",
            )
        )
    return problems


@register()
def check_schedules(app_configs, **kwargs):
    from proletto.scheduling.registry import schedule_problems

    return [Error(problem, id="proletto.E002") for problem in schedule_problems()]


@register()
def check_preferences_link(app_configs, **kwargs):
    if settings.PREFERENCES_LINK_MAX_AGE_DAYS < 1:
        return [Error("PREFERENCES_LINK_MAX_AGE_DAYS must be at least 1", id="proletto.E003")]
    return []
