"""The weekly digest email, rendered from its templates once per run rather than once per user.

Rendering Django templates for every user was, after the inserts, the largest cost of a
digest run, yet ten thousand digests differ only in a few values: the greeting, the artist's
mediums, the signed links and, per card, the tracked link and the deadline in the reader's
time zone. So each template is rendered once with a marker (a "slot") in place of each such
value, split at the markers, and every email is one join of the parts with the reader's
values, escaped exactly as the template would have escaped them. A whole render with the same
context gives the same email (tests/digests/test_digest_rendering.py checks it).

Only plain `{{ value }}` output can be a slot: a filter or an `{% if %}` on a slotted value
would see the marker, not the value. What the templates branch on (how many items, whether
there are mediums, whether there is an open pixel) is part of the key a frame is cached by.
"""

import functools
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from html import escape as html_escape

from django.template.loader import render_to_string
from django.utils.safestring import SafeData, SafeString
from django.utils.text import Truncator

from digests.deadlines import deadline_label
from digests.models import Opportunity
from outreach.services.outbox import email_render

DIGEST_TEMPLATE = "weekly_digest"
SUMMARY_CHARS = 220

# Random per process, so no scraped or profile text can contain a marker, by chance or on
# purpose.
_SLOT_MARK = uuid.uuid4().hex
# One written number, separators included ("1,000", "1.500,50", "1 000").
_NUMBER = re.compile(r"\d(?:[\d.,'\u00a0 ]*\d)?")
_SLOT = re.compile(rf"\[slot-{_SLOT_MARK}-(\w+)\]")


def html_safe_as_is(text: str) -> str:
    """`text` as a safe string if escaping it for HTML would leave it as it is: it is then
    filled into the cards of a run as it is, not escaped for each of them."""
    return SafeString(text) if html_escape(text) == text else text


def slot(name: str) -> str:
    return f"[slot-{_SLOT_MARK}-{name}]"


class Slotted:
    """Text rendered with slots, split once so that filling it in is a single join."""

    def __init__(self, rendered: str, *, autoescape: bool):
        # [text, slot name, text, slot name, ..., text]
        self.parts = _SLOT.split(rendered)
        self.names = tuple(self.parts[1::2])
        self.autoescape = autoescape
        if any(_SLOT_MARK in text.lower() for text in self.parts[::2]):
            raise ValueError("a template changed a slot's marker (a filter on a slotted value?)")

    def fill(self, values: dict) -> str:
        parts = self.parts.copy()
        # A plain loop: quicker than building the values' list for a slice (a run fills
        # 130,000 of these).
        at = 1
        if self.autoescape:
            for name in self.names:
                # As {{ value }} does (django.utils.html.conditional_escape, whose lazy-string
                # wrapper cost more than the escaping): escaped unless already safe (a filled
                # card, a tracked link, a label escaping would leave as it is).
                value = values[name]
                parts[at] = value if isinstance(value, SafeData) else html_escape(value)
                at += 2
        else:
            for name in self.names:
                parts[at] = values[name]
                at += 2
        return "".join(parts)


DISCOVERY_LABEL = "You might also like · "
# The label as filled in: escaping leaves it as it is, so it is not escaped for every card.
_DISCOVERY_FILLED, _NO_DISCOVERY_FILLED = SafeString(DISCOVERY_LABEL), SafeString("")


@dataclass(frozen=True)
class OpportunityCard:
    """An opportunity's part of the digest (card.html, card.txt), rendered for all readers.

    Slots: click_url, deadline_label, more_url, less_url (the feedback links) and
    discovery_label ("you might also like" or nothing).
    """

    opportunity_id: int
    url: str
    deadline: datetime | None
    deadline_date: date | None
    deadline_timezone: str
    html: Slotted
    text: Slotted

    @classmethod
    def render(cls, opportunity, templates: "CardTemplates | None" = None) -> "OpportunityCard":
        """The card of `opportunity`; with `templates` (one per run), filled in from them
        rather than rendered from its templates (the same text)."""
        rendered = templates.render(opportunity) if templates is not None else None
        if rendered is None:
            rendered = card_render(opportunity, **{name: slot(name) for name in READER_SLOTS})
        html, text = rendered
        return cls(
            opportunity_id=opportunity.id,
            url=opportunity.url,
            deadline=opportunity.deadline,
            deadline_date=opportunity.deadline_date,
            deadline_timezone=opportunity.deadline_timezone,
            html=Slotted(html, autoescape=True),
            text=Slotted(text, autoescape=False),
        )

    def fill(
        self,
        *,
        click_url: str,
        deadline_label: str,
        more_url: str,
        less_url: str,
        discovery: bool = False,
    ) -> dict:
        """The card as one reader sees it: an `items` entry of the digest templates."""
        values = {
            "click_url": click_url,
            "deadline_label": deadline_label,
            "more_url": more_url,
            "less_url": less_url,
            "discovery_label": _DISCOVERY_FILLED if discovery else _NO_DISCOVERY_FILLED,
        }
        # Safe: rendered with autoescaping, and the values are escaped by fill().
        # SafeString itself: mark_safe()'s check for a lazy string cost more than the fill.
        return {"html": SafeString(self.html.fill(values)), "text": self.text.fill(values)}


# What card.html and card.txt show that differs per reader: OpportunityCard's slots.
READER_SLOTS = ("click_url", "deadline_label", "more_url", "less_url", "discovery_label")


def card_values(opportunity) -> dict:
    """What card.html and card.txt show of an opportunity, the same for every reader."""
    return {
        "title": opportunity.title,
        "organisation": opportunity.organisation,
        "kind_label": opportunity.get_kind_display(),
        "location": opportunity_location_label(opportunity),
        "fee": opportunity_fee_label(opportunity),
        "summary": Truncator(opportunity.description).chars(SUMMARY_CHARS),
    }


def card_render(
    opportunity,
    *,
    click_url: str,
    deadline_label: str,
    more_url: str = "",
    less_url: str = "",
    discovery_label: str = "",
) -> tuple[str, str]:
    """card.html and card.txt for one opportunity, as (html, text)."""
    return _card_templates_render(
        {
            **card_values(opportunity),
            "click_url": click_url,
            "deadline_label": deadline_label,
            "more_url": more_url,
            "less_url": less_url,
            "discovery_label": discovery_label,
        }
    )


def _card_templates_render(context: dict) -> tuple[str, str]:
    # The template files end with a line break that is not part of the card.
    return tuple(
        render_to_string(f"email/{DIGEST_TEMPLATE}/card.{ext}", context).removesuffix("\n")
        for ext in ("html", "txt")
    )


class CardTemplates:
    """card.html and card.txt rendered once per run with every value a slot, the
    opportunity's as well as the reader's: a run's cards (some 1,500) are each a fill of the
    opportunity's values that leaves the reader's slots in place, not two template renders.

    The templates branch on whether there is an organisation: that is rendered per shape,
    with the organisation left out when there is none. A value the templates would show
    as other than a plain string (escaped, or not in card.txt) is left to card_render.
    """

    def __init__(self):
        self._frames: dict[bool, tuple[Slotted, Slotted]] = {}
        self._reader_slots = {name: SafeString(slot(name)) for name in READER_SLOTS}

    def render(self, opportunity) -> tuple[str, str] | None:
        """(html, text) as card_render gives them with the reader's values as slots; None
        for an opportunity whose values are not all strings."""
        values = card_values(opportunity)
        if any(type(value) is not str for value in values.values()):
            return None
        shape = bool(values["organisation"])
        if shape not in self._frames:
            slotted = {name: slot(name) for name in [*values, *READER_SLOTS]}
            if not shape:
                slotted["organisation"] = ""
            html, text = _card_templates_render(slotted)
            self._frames[shape] = (
                Slotted(html, autoescape=True),
                Slotted(text, autoescape=False),
            )
        html, text = self._frames[shape]
        values.update(self._reader_slots)
        return html.fill(values), text.fill(values)


class DigestCards:
    """The cards of one digest run, each rendered once: at most one per open opportunity."""

    def __init__(self, opportunities=()):
        self._templates = CardTemplates()
        self._cards = {o.id: OpportunityCard.render(o, self._templates) for o in opportunities}
        self._deadline_labels: dict[tuple, str] = {}

    def load(self, opportunity_ids) -> None:
        """Render the cards of these opportunities that this run has not rendered yet."""
        missing = [pk for pk in opportunity_ids if pk not in self._cards]
        if missing:
            for opportunity in Opportunity.objects.filter(pk__in=missing):
                self._cards[opportunity.id] = OpportunityCard.render(opportunity, self._templates)

    def __getitem__(self, opportunity_id: int) -> OpportunityCard:
        return self._cards[opportunity_id]

    def deadline_label(self, card: OpportunityCard, zone_name: str) -> str:
        key = (card.deadline, card.deadline_date, card.deadline_timezone, zone_name)
        if key not in self._deadline_labels:
            self._deadline_labels[key] = html_safe_as_is(
                deadline_label(
                    at=card.deadline,
                    day=card.deadline_date,
                    zone=card.deadline_timezone,
                    reader_zone=zone_name,
                )
            )
        return self._deadline_labels[key]


# The per-reader values of the email around the cards (the context of digest_email_context).
FRAME_SLOTS = ("greeting_name", "mediums", "unsubscribe_url", "preferences_url", "open_pixel_url")


class DigestFrames:
    """subject.txt, body.txt and body.html around the cards, rendered once per shape."""

    def __init__(self):
        self._frames: dict[tuple, tuple[Slotted, Slotted, Slotted]] = {}

    def render(self, context: dict) -> tuple[str, str, str]:
        """(subject, body_text, body_html) of one digest, as email_render would give them."""
        items = context["items"]
        shape = (
            len(items),
            bool(context["mediums"]),
            bool(context["open_pixel_url"]),
            context["general_picks"],
            bool(context.get("preferences_url")),
        )
        if shape not in self._frames:
            self._frames[shape] = self._render_frame(context)
        values = {name: context.get(name) for name in FRAME_SLOTS}
        names = _item_slots(len(items))
        values.update(zip(names, [item["text"] for item in items], strict=True))
        subject, text, html = self._frames[shape]
        subject, text = subject.fill(values), text.fill(values)
        values.update(zip(names, [item["html"] for item in items], strict=True))
        return subject, text, html.fill(values)

    def _render_frame(self, context: dict) -> tuple[Slotted, Slotted, Slotted]:
        slotted = {
            **context,
            **{name: slot(name) for name in FRAME_SLOTS if context.get(name)},
            "items": [
                {"html": slot(name), "text": slot(name)}
                for name in _item_slots(len(context["items"]))
            ],
        }
        subject, text, html = email_render(template=DIGEST_TEMPLATE, context=slotted)
        return (
            Slotted(subject, autoescape=False),
            Slotted(text, autoescape=False),
            Slotted(html, autoescape=True),
        )


@functools.lru_cache(maxsize=64)
def _item_slots(count: int) -> tuple[str, ...]:
    # The names of the slots of a digest's cards, asked for by every email of a run.
    return tuple(f"item_{i}" for i in range(count))


def opportunity_location_label(opportunity) -> str:
    if opportunity.is_remote:
        return "Remote / online"
    place = ", ".join(part for part in (opportunity.city, opportunity.country) if part)
    return place or opportunity.location_text or "Location not stated"


def opportunity_fee_label(opportunity) -> str:
    if opportunity.fee_amount is None:
        return "Fee not stated"
    if opportunity.fee_amount == 0:
        return "Free to apply"
    # The source's own words when they say more than one amount ("$10–$25 by size").
    if opportunity.fee_text and len(_NUMBER.findall(opportunity.fee_text)) > 1:
        return f"Fee {opportunity.fee_text}"
    amount = f"{opportunity.fee_amount:,.2f}".removesuffix(".00")
    return f"Fee {amount} {opportunity.fee_currency}".strip()
