"""What a health check returns, for the core's checks and the apps' `<app>/health.py`."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from proletto.models import CheckStatus

OK, WARNING, FAILING = CheckStatus.OK, CheckStatus.WARNING, CheckStatus.FAILING


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str
    value: str
    summary: str


def status_for(value: float, *, warning: float, failing: float) -> str:
    """OK below `warning`, WARNING from it, FAILING from `failing` (higher is worse)."""
    if value >= failing:
        return FAILING
    return WARNING if value >= warning else OK


# A check takes the instant it runs at and only reads.
Check = Callable[[dt.datetime], list["CheckResult"]]


@dataclass(frozen=True)
class StatusTile:
    """A tile of the status page: a title, one big line, a few lines of detail."""

    id: str
    title: str
    headline: str
    details: list[str]
    status: str | None = None  # FAILING when the tile itself crashed; None: no verdict
