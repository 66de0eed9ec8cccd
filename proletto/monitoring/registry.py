"""What each app adds to the maintenance bot, declared in `<app>/health.py`:

    CHECKS = [check_outbox, ...]        # each takes `now`, returns a list of CheckResult
    TILES = [outbox_tile]               # each takes `now`, returns a StatusTile (status page)
    ALERT_SENDERS = [alert_email]       # each takes a HealthAlert and its context, returns
                                        # how many people it notified

The modules are discovered like jobs.py (proletto/discovery.py): the core imports no app.
"""

import logging

from django.conf import settings
from django.utils import timezone

from proletto.discovery import app_modules
from proletto.monitoring.checks import (
    check_database,
    check_disk,
    check_inbox,
    check_jobs,
    check_scheduler,
)
from proletto.monitoring.results import FAILING, Check, CheckResult, StatusTile

logger = logging.getLogger("proletto.monitoring")


def _declared(name: str) -> list:
    explicit = getattr(settings, "HEALTH_CHECK_MODULES", None)
    return [
        item
        for module in app_modules("health", explicit=explicit)
        for item in getattr(module, name, [])
    ]


def health_checks() -> list[Check]:
    """The core's checks and the apps' CHECKS."""
    return [
        check_database,
        check_scheduler,
        check_jobs,
        *_declared("CHECKS"),
        check_disk,
        check_inbox,
    ]


def _crash_line(kind: str, exc: Exception) -> str:
    first_line = (str(exc).splitlines() or [""])[0]
    return f"{kind} crashed: {type(exc).__name__}: {first_line}"[:300]


def status_tiles(now=None) -> list[StatusTile]:
    """Every app's tile; one that raises shows as a failing tile saying why, so a bug in one
    app's tile never takes the status page down with it."""
    now = now or timezone.now()
    tiles = []
    for tile in _declared("TILES"):
        try:
            tiles.append(tile(now))
        except Exception as exc:
            logger.exception("status tile %s crashed", tile.__name__)
            tiles.append(
                StatusTile(
                    id=tile.__name__,
                    title=tile.__name__.removesuffix("_tile").replace("_", " ").capitalize(),
                    headline="failing",
                    details=[_crash_line("tile", exc)],
                    status=FAILING,
                )
            )
    return tiles


def alert_senders() -> list:
    return _declared("ALERT_SENDERS")


def run_checks(now=None, *, checks: list[Check] | None = None) -> list[CheckResult]:
    now = now or timezone.now()
    results = []
    for check in health_checks() if checks is None else checks:
        try:
            results.extend(check(now))
        except Exception as exc:
            # Failing, never left out: a check that crashes must not read as a check that passed.
            logger.exception("health check %s crashed", check.__name__)
            name = check.__name__.removeprefix("check_")
            results.append(CheckResult(name, FAILING, "error", _crash_line("check", exc)))
    return results
