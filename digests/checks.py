"""Start-up checks for the scraping settings: a bad value fails `manage.py check` with a line
an operator can act on, instead of a confusing error in the first scrape."""

from django.conf import settings
from django.core.checks import Error, register

from digests.scraping.guard import parse_networks

POSITIVE_SETTINGS = {
    "SCRAPE_TIMEOUT_SECONDS": "digests.E001",
    "SCRAPE_MAX_BYTES": "digests.E002",
    "SCRAPE_MAX_IN_FLIGHT": "digests.E003",
    "SCRAPE_MAX_ITEMS_PER_SOURCE": "digests.E004",
    "SCRAPE_ADMIN_TIMEOUT_SECONDS": "digests.E005",
    "SCRAPE_ADMIN_MAX_SOURCES": "digests.E006",
}


@register()
def check_scrape_settings(app_configs, **kwargs):
    problems = [
        Error(f"{name}={getattr(settings, name)!r} must be a positive number.", id=check_id)
        for name, check_id in POSITIVE_SETTINGS.items()
        if not getattr(settings, name) > 0
    ]
    if settings.SCRAPE_MAX_REDIRECTS < 0:
        problems.append(Error("SCRAPE_MAX_REDIRECTS must be 0 or more.", id="digests.E007"))
    if not settings.SCRAPE_USER_AGENT.strip():
        problems.append(
            Error(
                "SCRAPE_USER_AGENT must not be empty: sites block anonymous scrapers.",
                id="digests.E008",
            )
        )
    try:
        parse_networks(settings.SCRAPE_ALLOWED_PRIVATE_NETWORKS)
    except ValueError as exc:
        problems.append(
            Error(f"SCRAPE_ALLOWED_PRIVATE_NETWORKS: {exc} (give CIDRs).", id="digests.E009")
        )
    return problems
