"""A `<app>/health.py` whose check and tile raise, for the monitoring tests
(HEALTH_CHECK_MODULES names it)."""

from proletto.monitoring.results import CheckResult, StatusTile


def check_queue(now) -> list[CheckResult]:
    raise ZeroDivisionError("division by zero\nsecond line of the message")


def queue_tile(now) -> StatusTile:
    raise ZeroDivisionError("division by zero\nsecond line of the message")


def fine_tile(now) -> StatusTile:
    return StatusTile(id="fine", title="Fine", headline="3 waiting", details=[])


CHECKS = [check_queue]
TILES = [queue_tile, fine_tile]
