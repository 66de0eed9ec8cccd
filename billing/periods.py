"""Monthly credit periods: anchor + n months, counted in settings.TIME_ZONE.

Every period start is computed from the billing anchor, never chained from the previous reset:
an anchor on Jan 31 gives Feb 28 (29 in leap years), Mar 31, Apr 30, ... Chaining would drift to
the 28th after the first short month.
"""

import calendar
import datetime as dt
import zoneinfo

from django.conf import settings


def _zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def add_months(anchor: dt.datetime, months: int) -> dt.datetime:
    """`anchor` moved `months` calendar months on, the day clamped to the month's length.

    The wall-clock time in TIME_ZONE is kept (a reset at local midnight stays at local midnight
    across daylight-saving changes); the result is in UTC.
    """
    zone = _zone()
    local = anchor.astimezone(zone)
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    day = min(local.day, _month_length(year, month))
    moved = dt.datetime(
        year, month, day, local.hour, local.minute, local.second, local.microsecond, tzinfo=zone
    )
    return moved.astimezone(dt.UTC)


def _month_length(year: int, month: int) -> int:
    if month == 2:
        return 29 if calendar.isleap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def period_index(anchor: dt.datetime, at: dt.datetime) -> int:
    """How many whole months have started since `anchor` at `at` (0 in the first month).

    Before the anchor it is 0: the first period is the one that starts at the anchor.
    """
    return period_bounds(anchor, at)[0]


def period_bounds(anchor: dt.datetime, at: dt.datetime) -> tuple[int, dt.datetime, dt.datetime]:
    """(index, start, start of the next) of the monthly period containing `at`, in one go: the
    daily reset computes this for every due row."""
    zone = _zone()
    local_anchor, local_at = anchor.astimezone(zone), at.astimezone(zone)
    months = (local_at.year - local_anchor.year) * 12 + local_at.month - local_anchor.month
    if months <= 0:
        return 0, anchor, add_months(anchor, 1)
    candidate = add_months(anchor, months)
    if candidate > at:
        return months - 1, add_months(anchor, months - 1), candidate
    return months, candidate, add_months(anchor, months + 1)


def period_start(anchor: dt.datetime, at: dt.datetime) -> dt.datetime:
    """Start of the monthly credit period that contains `at`."""
    return add_months(anchor, period_index(anchor, at))


def next_period_start(anchor: dt.datetime, at: dt.datetime) -> dt.datetime:
    """Start of the monthly credit period after the one that contains `at`."""
    if at < anchor:
        return anchor
    return add_months(anchor, period_index(anchor, at) + 1)
