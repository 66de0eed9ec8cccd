"""From a raw item (strings as a source wrote them) to the fields of an Opportunity."""

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal

from proletto.vocabulary import normalise_medium, normalise_tag

from .dates import read_deadline
from .fees import read_fee
from .places import country_from_name, country_from_subdivision
from .text import canonical_url, plain_text

MAX_TAGS = 20


class ItemSkipped(Exception):
    """One item cannot be used (no title, no usable link); the rest of the source is fine."""


@dataclass
class RawItem:
    title: str = ""
    link: str = ""
    deadline: object = None
    organisation: str = ""
    description: str = ""
    location: str = ""
    kind: str = ""
    # Categories are mixed words: those in the medium vocabulary become mediums, the rest tags.
    categories: list[str] = field(default_factory=list)
    fee: str = ""
    eligibility: str = ""


# Words that name a kind, most specific first; matched in the kind field, then in the title.
KIND_WORDS = [
    ("fellowship", "fellowship"),
    ("residenc", "residency"),
    ("artist in residence", "residency"),
    ("artist-in-residence", "residency"),
    ("grant", "grant"),
    ("bursar", "grant"),
    ("funding", "grant"),
    ("stipend", "grant"),
    ("commission", "commission"),
    ("competition", "competition"),
    ("prize", "competition"),
    ("award", "competition"),
    ("open call", "open_call"),
    ("call for", "open_call"),
    ("open_call", "open_call"),
    ("exhibition", "open_call"),
    ("submission", "open_call"),
    ("job", "job"),
    ("vacanc", "job"),
    ("position", "job"),
    ("hiring", "job"),
]

REMOTE_WORDS = ("remote", "online", "virtual", "anywhere", "worldwide", "international")
_DEADLINE_IN_TEXT = re.compile(
    r"\b(?:deadline|closes|closing date|apply by)\s*[:\-–]?\s*([^\n.;]{4,60})", re.I
)


def normalise_item(raw: RawItem, *, base_url: str, tz: dt.tzinfo) -> dict:
    """The Opportunity fields for `raw`, plus its content hash; ItemSkipped if unusable."""
    title = plain_text(raw.title, max_length=300)
    if not title:
        raise ItemSkipped("an item has no title")
    url = canonical_url(raw.link, base_url=base_url)
    if url is None:
        raise ItemSkipped(f"item {title[:60]!r} has no usable http(s) link")
    description = plain_text(raw.description, max_length=5000, multiline=True)
    deadline = read_deadline(raw.deadline, tz=tz) if raw.deadline else None
    if deadline is None and not raw.deadline:
        match = _DEADLINE_IN_TEXT.search(description)
        deadline = read_deadline(match.group(1), tz=tz) if match else None
    mediums, tags = split_categories(raw.categories)
    city, country, is_remote, location_text = parse_location(raw.location)
    fee_amount, fee_currency = parse_fee(raw.fee)
    fields = {
        "title": title,
        "url": url,
        "organisation": plain_text(raw.organisation, max_length=200),
        "description": description,
        "deadline": deadline.at if deadline else None,
        "deadline_date": deadline.day if deadline else None,
        "deadline_timezone": deadline.zone if deadline else "",
        "kind": parse_kind(raw.kind, title=title),
        "city": city,
        "country": country,
        "is_remote": is_remote,
        "location_text": location_text,
        "mediums": mediums,
        "tags": tags,
        "fee_amount": fee_amount,
        "fee_currency": fee_currency,
        "fee_text": plain_text(raw.fee, max_length=200),
        "eligibility": plain_text(raw.eligibility, max_length=2000, multiline=True),
    }
    fields["content_hash"] = content_hash(fields)
    return fields


def content_hash(fields: dict) -> str:
    payload = {key: value for key, value in fields.items() if key != "content_hash"}
    encoded = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


def split_categories(words) -> tuple[list[str], list[str]]:
    mediums, tags = [], []
    for word in _words(words):
        medium = normalise_medium(word)
        if medium:
            if medium not in mediums:
                mediums.append(medium)
        else:
            tag = normalise_tag(word)
            if tag and len(tag) <= 60 and tag not in tags and len(tags) < MAX_TAGS:
                tags.append(tag)
    return sorted(mediums), sorted(tags)


def _words(words) -> list[str]:
    if isinstance(words, str):
        words = [words]
    out = []
    for word in words or []:
        text = plain_text(word)
        out.extend(part for part in re.split(r"[,;|/]", text) if part.strip())
    return out


def parse_kind(value: str, *, title: str) -> str:
    for text in (plain_text(value).lower(), title.lower()):
        if not text:
            continue
        for word, kind in KIND_WORDS:
            if word in text:
                return kind
    return "other"


def parse_location(value: str) -> tuple[str, str, bool, str]:
    """(city, country code, remote?, the text as given)."""
    text = plain_text(value, max_length=200)
    lowered = text.lower()
    is_remote = any(word in lowered for word in REMOTE_WORDS)
    parts = [part.strip() for part in re.split(r"[,/|;]", text) if part.strip()]
    places = [part for part in parts if not any(w in part.lower() for w in REMOTE_WORDS)]
    country = ""
    if places:
        country = _country_of(places[-1], after_city=len(places) > 1)
        if country:
            places = places[:-1]
        # "Toronto, ON, Canada", "Brooklyn, New York, USA": the state is not the city.
        if country and len(places) > 1 and country_from_subdivision(places[-1]) == country:
            places = places[:-1]
    city = places[0][:100] if places else ""
    return city, country, is_remote, text


def _country_of(place: str, *, after_city: bool) -> str:
    # After a city, "CA" is California and "WA" Washington: a state code wins over the
    # country code it collides with. Alone, "CA" is Canada.
    if after_city and place.isupper() and len(place) in (2, 3):
        country = country_from_subdivision(place)
        if country:
            return country
    return country_from_name(place) or country_from_subdivision(place)


def parse_fee(value) -> tuple[Decimal | None, str]:
    """(amount, ISO currency): 0 when free, None when not stated or unreadable."""
    fee = read_fee(value)
    return fee.amount, fee.currency
