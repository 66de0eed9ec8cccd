"""Demo opportunity sources: files in digests/demo_sources/, served by the web server itself in
DEBUG (digests.views.demo_source) so `make demo` needs no extra process.

The files hold deadlines relative to today as placeholders, filled in when served, so the
demo never goes stale: {{date:+30}} (2027-01-07), {{iso:-2}} (RFC 3339 time),
{{rfc822:+30}} (RSS style) and {{human:+30}} ("7 January 2027").
"""

import datetime as dt
import re
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from digests.models import OpportunitySource
from digests.services.opportunities import opportunities_upsert
from digests.services.scrape import items_from_body

DEMO_DIR = Path(__file__).resolve().parent / "demo_sources"
CONTENT_TYPES = {
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}
_PLACEHOLDER = re.compile(r"\{\{(date|iso|rfc822|human):([+-]\d+)\}\}")

HTML_LISTING_CONFIG = {
    "item": "article.opportunity",
    "title": ".title",
    "link": ".title a",
    "deadline": ".deadline",
    "organisation": ".org",
    "description": ".summary",
    "location": ".location",
    "kind": ".kind",
    "mediums": ".mediums li",
    "tags": ".tags li",
    "fee": ".fee",
}

SOURCES = [
    ("ArtCalls Weekly (RSS)", OpportunitySource.Kind.FEED, "artcalls.rss", {}, "UTC"),
    ("Residency Atlas (Atom)", OpportunitySource.Kind.FEED, "residencies.atom", {}, "UTC"),
    ("Grants for Artists (JSON Feed)", OpportunitySource.Kind.JSON_FEED, "grants.json", {}, "UTC"),
    (
        "West Africa Arts Network (HTML)",
        OpportunitySource.Kind.HTML,
        "listing.html",
        HTML_LISTING_CONFIG,
        "Africa/Accra",
    ),
]


def render_demo_source(name: str, *, today: dt.date | None = None) -> tuple[bytes, str]:
    """The file `name` with its date placeholders filled in, and its content type."""
    path = (DEMO_DIR / name).resolve()
    if path.parent != DEMO_DIR or path.suffix not in CONTENT_TYPES or not path.is_file():
        raise FileNotFoundError(name)
    today = today or timezone.now().date()

    def fill(match):
        day = today + dt.timedelta(days=int(match.group(2)))
        moment = dt.datetime.combine(day, dt.time(17, 0), tzinfo=dt.UTC)
        return {
            "date": day.isoformat(),
            "iso": moment.isoformat().replace("+00:00", "Z"),
            "rfc822": moment.strftime("%a, %d %b %Y %H:%M:%S +0000"),
            "human": f"{day.day} {day.strftime('%B %Y')}",
        }[match.group(1)]

    text = _PLACEHOLDER.sub(fill, path.read_text(encoding="utf-8"))
    return text.encode("utf-8"), CONTENT_TYPES[path.suffix]


def load(users) -> list[str]:
    """Create the demo sources and fill the catalogue from their files right away (the web
    server that serves them over HTTP is not running yet); scrape_opportunities refreshes
    them over HTTP from then on."""
    now = timezone.now()
    created = 0
    for name, kind, file, config, zone in SOURCES:
        source, _ = OpportunitySource.objects.update_or_create(
            name=name,
            defaults={
                "kind": kind,
                "url": f"{settings.SITE_URL}/demo-sources/{file}",
                "config": config,
                "timezone": zone,
                "enabled": True,
            },
        )
        body, _ = render_demo_source(file)
        items, _ = items_from_body(
            kind=kind, body=body, config=config, base_url=source.url, tz=source.tzinfo
        )
        counts = opportunities_upsert(source_id=source.pk, items=items, now=now)
        created += counts["created"]
    return [
        f"{len(SOURCES)} opportunity sources, {created} new opportunities "
        "(refreshed by scrape_opportunities)"
    ]
