"""Deadlines in whatever format and language a source writes them.

A deadline is either a day ("30 December 2026": the call closes at the end of that day where
the organiser is, and every reader must be told that same day) or an instant ("1 March 2027
17:00 CET": shown in each reader's zone). `read_deadline` keeps the two apart; both carry the
instant, which ranking and expiry use.

English and numeric dates go through dateutil (fast, and most feeds write them); other
languages ("15. März 2027", "30 de abril de 2027") through dateparser.
"""

import datetime as dt
import re
import warnings
from dataclasses import dataclass

from dateutil import parser as dateutil_parser

# Words before the date that say "deadline", in the languages dateparser is asked to read.
_PREFIX = re.compile(
    r"^\s*(deadline|closes?|closing date|due|apply by|until|submission deadline|"
    r"einsendeschluss|bewerbungsschluss|anmeldeschluss|frist|bis|"
    r"date limite|clôture|jusqu'au|"
    r"fecha límite|plazo|hasta el|prazo|até|"
    r"scadenza|entro il|termine)\s*(:|-|–)?\s*",
    re.I,
)
_ORDINAL = re.compile(r"(\d{1,2})(st|nd|rd|th)\b", re.I)
# A time of day written in the text ("17:00", "5pm", "18h", "18 Uhr").
_TIME_OF_DAY = re.compile(r"\d{1,2}\s*(:\s*\d{2}|h\b|h\d{2}|uhr\b|am\b|pm\b)", re.I)
# Two different defaults: a part the text does not give shows up as a difference.
_DEFAULT_A = dt.datetime(2000, 1, 1, 0, 0, 0)
_DEFAULT_B = dt.datetime(2004, 2, 2, 1, 1, 1)
MIN_YEAR, MAX_YEAR = 2000, 2100
OTHER_LANGUAGES = ["de", "fr", "es", "pt", "it", "nl"]
_DATEPARSER_SETTINGS = {"REQUIRE_PARTS": ["day", "month", "year"], "DATE_ORDER": "DMY"}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"
)


@dataclass(frozen=True)
class Deadline:
    at: dt.datetime  # the instant it closes, aware UTC: for ranking and expiry
    day: dt.date | None  # the day as written, when the source gave no time of day
    zone: str  # the source's zone, where a day ends


def read_deadline(value, *, tz: dt.tzinfo) -> Deadline | None:
    """The deadline `value` states, or None when it holds no complete date.

    A date without a time is that day, ending at 23:59:59 in the source's time zone `tz`.
    """
    if value is None:
        return None
    zone = str(tz)
    if isinstance(value, dt.datetime):
        return Deadline(at=_aware(value, tz), day=None, zone=zone)
    if isinstance(value, dt.date):
        return _day(value, tz) if MIN_YEAR <= value.year <= MAX_YEAR else None
    text = str(value).strip()
    # Most feeds write ISO 8601; it needs none of dateutil's guessing (and is much faster).
    if _ISO_DATE.fullmatch(text):
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            return None
        return _day(day, tz) if MIN_YEAR <= day.year <= MAX_YEAR else None
    if _ISO_DATETIME.fullmatch(text):
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        if not MIN_YEAR <= moment.year <= MAX_YEAR:
            return None
        return Deadline(at=_aware(moment, tz), day=None, zone=zone)
    text = _ORDINAL.sub(r"\1", _PREFIX.sub("", text)).strip()
    if not text or len(text) > 100:
        return None
    return _read_english(text, tz) or _read_other_languages(text, tz)


def parse_deadline(value, *, tz: dt.tzinfo) -> dt.datetime | None:
    """The instant a deadline closes (aware UTC), or None: see read_deadline."""
    deadline = read_deadline(value, tz=tz)
    return deadline.at if deadline else None


def _read_english(text: str, tz) -> Deadline | None:
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
        return _day(first.date(), tz)
    return Deadline(at=_aware(first, tz), day=None, zone=str(tz))


def _read_other_languages(text: str, tz) -> Deadline | None:
    # Imported here: it takes 0.4 s, which every process importing the scraper (web workers,
    # the scheduler, each command) would pay, and most feeds never need it.
    import dateparser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        moment = dateparser.parse(text, languages=OTHER_LANGUAGES, settings=_DATEPARSER_SETTINGS)
    if moment is None or not MIN_YEAR <= moment.year <= MAX_YEAR:
        return None
    if not _TIME_OF_DAY.search(text):
        return _day(moment.date(), tz)
    return Deadline(at=_aware(moment, tz), day=None, zone=str(tz))


def _day(day: dt.date, tz: dt.tzinfo) -> Deadline:
    end = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=tz).astimezone(dt.UTC)
    return Deadline(at=end, day=day, zone=str(tz))


def _aware(value: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(dt.UTC)
