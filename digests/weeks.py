"""Which digest week is due for whom: Monday 08:00 in each user's own time zone.

A digest belongs to a week, named by the date of its Monday in the user's time zone. The
week's digest is due from the user's local send time on that Monday until the end of the
week; a user whose send time has not come yet this week is not due (last week's digest, sent
or missed, is not sent late into a new week).
"""

import datetime as dt
import zoneinfo
from collections import defaultdict

from django.conf import settings


def send_weekday() -> int:
    return settings.DIGEST_SEND_WEEKDAY


def send_time() -> dt.time:
    return settings.DIGEST_SEND_LOCAL_TIME


def week_of(local_date: dt.date) -> dt.date:
    """The first day (the send weekday) of the digest week that contains local_date."""
    return local_date - dt.timedelta(days=(local_date.weekday() - send_weekday()) % 7)


def due_week(zone_name: str, now: dt.datetime) -> dt.date | None:
    """The week whose digest is due now for a user in this zone, or None before send time."""
    zone = zoneinfo.ZoneInfo(zone_name)
    local_now = now.astimezone(zone)
    week = week_of(local_now.date())
    # An aware local datetime: zoneinfo applies that day's offset, so DST is handled.
    send_at = dt.datetime.combine(week, send_time(), tzinfo=zone)
    return week if local_now >= send_at else None


def due_zones_by_week(zone_names, now: dt.datetime) -> dict[dt.date, list[str]]:
    """Group time zones by the week now due in them; zones not yet due are left out.

    Across the date line two weeks can be due at once (Auckland's Monday while it is still
    Sunday evening's previous week elsewhere), so the result has one or two keys.
    """
    by_week: dict[dt.date, list[str]] = defaultdict(list)
    for zone_name in sorted(set(zone_names)):
        week = due_week(zone_name, now)
        if week is not None:
            by_week[week].append(zone_name)
    return dict(by_week)
