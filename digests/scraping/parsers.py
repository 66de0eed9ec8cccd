"""One parser per source kind: bytes in, RawItems out; ParseError when the source is unusable."""

import io
import json
import xml.sax

import feedparser
import soupsieve
from bs4 import BeautifulSoup

from .normalise import RawItem


class ParseError(Exception):
    """The response is not what the source's kind promises; one line for the admin."""


def parse(kind: str, body: bytes, *, config: dict, base_url: str) -> list[RawItem]:
    parser = PARSERS.get(kind)
    if parser is None:
        raise ParseError(f"unknown source kind {kind!r}")
    return parser(body, config=config or {}, base_url=base_url)


# --- RSS / Atom --------------------------------------------------------------------------------

FEED_EXTRA_KEYS = {
    "deadline": ("deadline", "closing_date", "closes"),
    "organisation": ("organisation", "organization", "org"),
    "location": ("location", "where"),
    "kind": ("kind", "type", "opportunity_type"),
    "fee": ("fee", "entry_fee"),
    "eligibility": ("eligibility",),
    "mediums": ("mediums", "medium"),
}


def parse_feed(body: bytes, *, config: dict, base_url: str) -> list[RawItem]:
    # A file object, never bytes or str: feedparser fetches strings that look like URLs and
    # opens strings that look like local paths.
    parsed = feedparser.parse(io.BytesIO(body), sanitize_html=True, resolve_relative_uris=False)
    # feedparser reads broken XML leniently; a truncated feed would then update stored
    # items with cut-off text, so a feed that is not well-formed fails as a whole.
    if parsed.bozo and isinstance(parsed.bozo_exception, xml.sax.SAXException):
        raise ParseError(f"not a valid RSS/Atom feed: {_one_line(parsed.bozo_exception)}")
    entries = parsed.entries
    if not entries:
        if parsed.bozo:
            raise ParseError(f"not a valid RSS/Atom feed: {_one_line(parsed.bozo_exception)}")
        if not parsed.version:
            raise ParseError("not an RSS/Atom feed (no <rss>, <feed> or <rdf> root)")
        return []
    items = []
    for entry in entries:
        extra = {name: _extra(entry, keys) for name, keys in FEED_EXTRA_KEYS.items()}
        categories = [tag.get("term", "") for tag in entry.get("tags", [])]
        if extra["mediums"]:
            categories.append(extra["mediums"])
        description = entry.get("summary", "")
        if entry.get("content"):
            description = entry.content[0].get("value", "") or description
        items.append(
            RawItem(
                title=entry.get("title", ""),
                link=_entry_link(entry),
                deadline=extra["deadline"] or None,
                organisation=extra["organisation"] or entry.get("author", ""),
                description=description,
                location=extra["location"],
                kind=extra["kind"],
                categories=categories,
                fee=extra["fee"],
                eligibility=extra["eligibility"],
            )
        )
    return items


def _extra(entry, keys) -> str:
    # Namespaced elements arrive as "<prefix>_<name>", whatever prefix the feed declared.
    for entry_key, value in entry.items():
        name = entry_key.rsplit("_", 1)[-1] if "_" in entry_key else entry_key
        compound = entry_key.split("_", 1)[-1]
        if (name in keys or compound in keys) and isinstance(value, str):
            return value
    return ""


def _entry_link(entry) -> str:
    for link in entry.get("links", []):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link["href"]
    return entry.get("link", "") or entry.get("id", "")


# --- JSON Feed and JSON API ----------------------------------------------------------------------


def parse_json_feed(body: bytes, *, config: dict, base_url: str) -> list[RawItem]:
    document = _json(body)
    version = document.get("version", "") if isinstance(document, dict) else ""
    if not str(version).startswith("https://jsonfeed.org/version/"):
        raise ParseError("not a JSON Feed: no https://jsonfeed.org/version/ in 'version'")
    entries = document.get("items")
    if not isinstance(entries, list):
        raise ParseError("JSON Feed has no 'items' list")
    items = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        extension = entry.get("_proletto") if isinstance(entry.get("_proletto"), dict) else {}
        authors = entry.get("authors") or document.get("authors") or []
        author = authors[0].get("name", "") if authors and isinstance(authors[0], dict) else ""
        categories = list(_as_list(entry.get("tags"))) + list(_as_list(extension.get("mediums")))
        items.append(
            RawItem(
                title=_str(entry.get("title")),
                link=_str(entry.get("url") or entry.get("external_url")),
                deadline=_str(extension.get("deadline")) or None,
                organisation=_str(extension.get("organisation")) or author,
                description=_str(
                    entry.get("content_text") or entry.get("content_html") or entry.get("summary")
                ),
                location=_str(extension.get("location")),
                kind=_str(extension.get("kind")),
                categories=[_str(word) for word in categories],
                fee=_str(extension.get("fee")),
                eligibility=_str(extension.get("eligibility")),
            )
        )
    return items


def parse_json_api(body: bytes, *, config: dict, base_url: str) -> list[RawItem]:
    document = _json(body)
    items_path = config.get("items", "")
    entries = _dig(document, items_path) if items_path else document
    if not isinstance(entries, list):
        raise ParseError(f"no list of items at {items_path or 'the top level'!r}")
    fields = config.get("fields", {})
    items = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue

        def value(name, entry=entry):
            path = fields.get(name)
            return _dig(entry, path) if path else None

        categories = list(_as_list(value("mediums"))) + list(_as_list(value("tags")))
        items.append(
            RawItem(
                title=_str(value("title")),
                link=_str(value("link")),
                deadline=_str(value("deadline")) or None,
                organisation=_str(value("organisation")),
                description=_str(value("description")),
                location=_str(value("location")),
                kind=_str(value("kind")),
                categories=[_str(word) for word in categories],
                fee=_str(value("fee")),
                eligibility=_str(value("eligibility")),
            )
        )
    return items


def _json(body: bytes):
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"invalid JSON: {_one_line(exc)}") from exc


def _dig(document, path: str):
    for key in str(path).split("."):
        if isinstance(document, dict):
            document = document.get(key)
        elif isinstance(document, list) and key.isdigit() and int(key) < len(document):
            document = document[int(key)]
        else:
            return None
    return document


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _str(value) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value)


# --- HTML listing page ---------------------------------------------------------------------------


def parse_html(body: bytes, *, config: dict, base_url: str) -> list[RawItem]:
    soup = BeautifulSoup(body, "html.parser")
    try:
        elements = soup.select(config["item"])
    except (KeyError, soupsieve.SelectorSyntaxError) as exc:
        raise ParseError(f"bad item selector: {_one_line(exc)}") from exc
    if not elements:
        raise ParseError(f"no element matches the item selector {config['item']!r}")
    items = []
    for element in elements:
        link_element = _select_one(element, config.get("link"))
        if link_element is not None and link_element.name != "a":
            link_element = link_element.find("a", href=True) or link_element
        items.append(
            RawItem(
                title=_text(element, config.get("title")),
                link=link_element.get("href", "") if link_element is not None else "",
                deadline=_deadline_text(element, config.get("deadline")),
                organisation=_text(element, config.get("organisation")),
                description=_text(element, config.get("description")),
                location=_text(element, config.get("location")),
                kind=_text(element, config.get("kind")),
                categories=_texts(element, config.get("mediums"))
                + _texts(element, config.get("tags")),
                fee=_text(element, config.get("fee")),
                eligibility=_text(element, config.get("eligibility")),
            )
        )
    return items


def _select_one(element, selector):
    return element.select_one(selector) if selector else None


def _text(element, selector) -> str:
    found = _select_one(element, selector)
    return found.get_text(" ", strip=True) if found is not None else ""


def _deadline_text(element, selector) -> str | None:
    found = _select_one(element, selector)
    if found is None:
        return None
    # <time datetime="..."> is exact; its text is for people.
    time_element = found if found.name == "time" else found.find("time")
    if time_element is not None and time_element.get("datetime"):
        return time_element["datetime"]
    return found.get_text(" ", strip=True) or None


def _texts(element, selector) -> list[str]:
    if not selector:
        return []
    return [found.get_text(" ", strip=True) for found in element.select(selector)]


def _one_line(exc) -> str:
    return " ".join(str(exc).split())[:300]


PARSERS = {
    "feed": parse_feed,
    "json_feed": parse_json_feed,
    "json_api": parse_json_api,
    "html": parse_html,
}
