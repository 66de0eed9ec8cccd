"""Deadlines, fees and places as real calls write them, with what an artist must be told.

One table per kind of string; each row is a string seen on a real listing (several countries
and languages) and the value Proletto must store for it. Issue 15: "€1,000" was stored as 1.00,
"New York, NY" as the country "NY", a date-only deadline moved by a day east of its source.
"""

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest

from digests.models import Opportunity
from digests.rendering import opportunity_fee_label
from digests.scraping.dates import read_deadline
from digests.scraping.normalise import parse_fee, parse_location

UTC = dt.UTC
Z = zoneinfo.ZoneInfo


def day(y, m, d):
    return ("date", dt.date(y, m, d))


def at(y, m, d, hh, mm):
    return ("at", dt.datetime(y, m, d, hh, mm, tzinfo=UTC))


DEADLINES = [
    # (text as written, the source's zone, what it means)
    ("30 December 2026", "America/New_York", day(2026, 12, 30)),
    ("2026-12-30", "America/Los_Angeles", day(2026, 12, 30)),
    ("Deadline: March 1st, 2027", "UTC", day(2027, 3, 1)),
    ("Closes 15/01/2027", "Europe/London", day(2027, 1, 15)),
    ("Apply by Friday, 5 February 2027", "Europe/Dublin", day(2027, 2, 5)),
    ("15. März 2027", "Europe/Berlin", day(2027, 3, 15)),
    ("Einsendeschluss: 1. April 2027", "Europe/Berlin", day(2027, 4, 1)),
    ("15 mars 2027", "Europe/Paris", day(2027, 3, 15)),
    ("Date limite : 31 janvier 2027", "Europe/Paris", day(2027, 1, 31)),
    ("15 de marzo de 2027", "Europe/Madrid", day(2027, 3, 15)),
    ("30 de abril de 2027", "America/Sao_Paulo", day(2027, 4, 30)),
    ("scadenza 20 gennaio 2027", "Europe/Rome", day(2027, 1, 20)),
    ("2027-03-01T17:00:00-05:00", "UTC", at(2027, 3, 1, 22, 0)),
    ("1 March 2027 5pm", "Europe/Rome", at(2027, 3, 1, 16, 0)),
    ("Mon, 01 Mar 2027 17:00:00 +0100", "UTC", at(2027, 3, 1, 16, 0)),
    ("2027-06-30 23:59", "Australia/Sydney", at(2027, 6, 30, 13, 59)),
]

FEES = [
    # (text as written, amount, ISO currency)
    ("€1,000", Decimal("1000.00"), "EUR"),
    ("$1,500.00", Decimal("1500.00"), "USD"),
    ("1.000 €", Decimal("1000.00"), "EUR"),
    ("1.500,50 €", Decimal("1500.50"), "EUR"),
    ("£25", Decimal("25.00"), "GBP"),
    ("CHF 1'200.50", Decimal("1200.50"), "CHF"),
    ("R$ 50,00", Decimal("50.00"), "BRL"),
    ("¥3,000", Decimal("3000.00"), "JPY"),
    ("25 USD per entry", Decimal("25.00"), "USD"),
    ("AUD 35", Decimal("35.00"), "AUD"),
    ("$10–$25 depending on size", Decimal("10.00"), "USD"),
    ("Free", Decimal("0"), ""),
    ("No entry fee", Decimal("0"), ""),
    ("Gratuit", Decimal("0"), ""),
    ("kostenlos", Decimal("0"), ""),
    ("ask us", None, ""),
]

PLACES = [
    # (text as written, city, ISO country, remote)
    ("New York, NY", "New York", "US", False),
    ("Los Angeles, CA", "Los Angeles", "US", False),
    ("Brooklyn, New York, USA", "Brooklyn", "US", False),
    ("São Paulo, Brasil", "São Paulo", "BR", False),
    ("Berlin, Deutschland", "Berlin", "DE", False),
    ("Wien, Österreich", "Wien", "AT", False),
    ("Roma, Italia", "Roma", "IT", False),
    ("Madrid, España", "Madrid", "ES", False),
    ("Ciudad de México, México", "Ciudad de México", "MX", False),
    ("London, UK", "London", "GB", False),
    ("Glasgow, Scotland", "Glasgow", "GB", False),
    ("Amsterdam, Nederland", "Amsterdam", "NL", False),
    ("Toronto, ON, Canada", "Toronto", "CA", False),
    ("Kyoto, JP", "Kyoto", "JP", False),
    ("Paris, France", "Paris", "FR", False),
    ("Seoul, South Korea", "Seoul", "KR", False),
    ("Online / London, UK", "London", "GB", True),
    ("Remote (worldwide)", "", "", True),
    ("Springfield, ZZ", "Springfield", "", False),
]


@pytest.mark.parametrize(("text", "zone", "expected"), DEADLINES)
def test_a_deadline_means_what_its_text_says(text, zone, expected):
    deadline = read_deadline(text, tz=Z(zone))
    assert deadline is not None, text
    kind, value = expected
    if kind == "date":
        assert (deadline.day, deadline.zone) == (value, zone)
        # Ranking and expiry still have an instant: the end of that day where the call is.
        end_of_day = dt.datetime.combine(value, dt.time(23, 59, 59), tzinfo=Z(zone))
        assert deadline.at == end_of_day
    else:
        assert (deadline.day, deadline.at) == (None, value)


@pytest.mark.parametrize(("text", "amount", "currency"), FEES)
def test_a_fee_means_what_its_text_says(text, amount, currency):
    assert parse_fee(text) == (amount, currency)


@pytest.mark.parametrize(("text", "city", "country", "remote"), PLACES)
def test_a_place_means_what_its_text_says(text, city, country, remote):
    assert parse_location(text)[:3] == (city, country, remote)


def test_the_table_holds_at_least_forty_real_world_strings():
    assert len(DEADLINES) + len(FEES) + len(PLACES) >= 40


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("€1,000", "Fee 1,000 EUR"),
        ("1.500,50 €", "Fee 1,500.50 EUR"),
        ("$10–$25 depending on size", "Fee $10–$25 depending on size"),
        ("Free", "Free to apply"),
        ("", "Fee not stated"),
    ],
)
def test_the_digest_states_a_fee_as_the_call_means_it(text, label):
    amount, currency = parse_fee(text)
    opportunity = Opportunity(fee_amount=amount, fee_currency=currency, fee_text=text)
    assert opportunity_fee_label(opportunity) == label
