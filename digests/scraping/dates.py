"""Deadlines in whatever format a source writes them, to aware UTC datetimes."""

import datetime as dt
import re
import warnings

from dateutil import parser as dateutil_parser

_PREFIX = re.compile(r"^\s*(deadline|closes?|closing date|due|apply by|until)\s*[:\-–]?\s*", re.I)
_ORDINAL = re.compile(r"(\d{1,2})(st|nd|rd|th)\b", re.I)
# Two different defaults: a part the text does not give shows up as a difference.
_DEFAULT_A = dt.datetime(2000, 1, 1, 0, 0, 0)
_DEFAULT_B = dt.datetime(2004, 2, 2, 1, 1, 1)
MIN_YEAR, MAX_YEAR = 2000, 2100
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"
)


def parse_deadline(value, *, tz: dt.tzinfo) -> dt.datetime | None:
    """An aware UTC datetime, or None when the text holds no complete date.

    A date without a time means the end of that day in the source's time zone `tz`.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return _aware(value, tz)
    text = str(value).strip()
    # Most feeds write ISO 8601; it needs none of dateutil's guessing (and is much faster).
    if _ISO_DATE.fullmatch(text):
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            return None
        return _end_of_day(day, tz) if MIN_YEAR <= day.year <= MAX_YEAR else None
    if _ISO_DATETIME.fullmatch(text):
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        return _aware(moment, tz) if MIN_YEAR <= moment.year <= MAX_YEAR else None
    text = _ORDINAL.sub(r"\1", _PREFIX.sub("", text)).strip()
    if not text or len(text) > 100:
        return None
    try:
        with warnings.catch_warnings():
            # "EST" and friends: dateutil warns and returns a naive time; we use `tz`.
            warnings.simplefilter("ignore")
            first = dateutil_parser.parse(text, default=_DEFAULT_A, fuzzy=True)
            second = dateutil_parser.parse(text, default=_DEFAULT_B, fuzzy=True)
    except (ValueError, OverflowError):
        return None
    if (first.year, first.month, first.day) != (second.year, second.month, second.day):
        return None
    if not MIN_YEAR <= first.year <= MAX_YEAR:
        return None
    if first.hour != second.hour:
        return _end_of_day(first.date(), tz)
    return _aware(first, tz)


def _end_of_day(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=tz).astimezone(dt.UTC)


def _aware(value: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(dt.UTC)


from dataclasses import dataclass  # noqa: E402


@dataclass(frozen=True)
class Deadline:
    at: dt.datetime
    day: dt.date | None
    zone: str


def read_deadline(value, *, tz) -> Deadline | None:
    at = parse_deadline(value, tz=tz)
    return Deadline(at=at, day=None, zone=str(tz)) if at else None
