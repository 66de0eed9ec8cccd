"""How a deadline is put into words for a reader: the same rule in the email, the public
pages and the admin.

A day ("30 December 2026") is that day for every reader, wherever they are: moving it into
the reader's zone turned the organiser's 30 December into 31 December in Auckland. An instant
is shown in the reader's zone, with the zone named.
"""

import datetime as dt
import zoneinfo

from django.utils.formats import date_format


def zone_label(zone: str) -> str:
    return zone.replace("_", " ")


def deadline_label(
    *, at: dt.datetime | None, day: dt.date | None, zone: str, reader_zone: str | None
) -> str:
    """`at`, `day`, `zone` as on Opportunity; `reader_zone` None for an anonymous reader."""
    if at is None:
        return "rolling"
    if day is not None:
        label = date_format(day, "j F Y")
        # Where it helps: the reader is elsewhere, so "end of day" is not their evening.
        if zone and reader_zone != zone:
            label += f" (closes end of day, {zone_label(zone)})"
        return label
    shown_in = reader_zone or zone or "UTC"
    local = at.astimezone(zoneinfo.ZoneInfo(shown_in))
    return f"{date_format(local, 'j F Y, H:i')} ({zone_label(shown_in)} time)"


def opportunity_deadline_label(opportunity, reader_zone: str | None = None) -> str:
    return deadline_label(
        at=opportunity.deadline,
        day=opportunity.deadline_date,
        zone=opportunity.deadline_timezone,
        reader_zone=reader_zone,
    )
