"""The digest is rendered once per run with slots filled in per reader (digests/rendering.py):
every email must be exactly what rendering its templates whole would give."""

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest
from django.utils.safestring import mark_safe

from digests.rendering import (
    DIGEST_TEMPLATE,
    DISCOVERY_LABEL,
    DigestCards,
    DigestFrames,
    OpportunityCard,
    Slotted,
    card_render,
    slot,
)
from outreach.consent import marketing_headers
from outreach.models import Category, EmailOutbox
from outreach.services.outbox import OutboxDraft, outbox_enqueue_many
from tests.digests.digest_data import opportunity

pytestmark = pytest.mark.django_db

HOSTILE = 'Giulia <b>"Bianchi"</b> & O\'Brien  '


def frame_context(
    *,
    items: int,
    mediums: str,
    open_pixel_url: str,
    general_picks: bool = False,
    preferences_url: str = "",
) -> dict:
    return {
        "general_picks": general_picks,
        "profile_url": "http://127.0.0.1:8000/profile/?a=1&b=2",
        "greeting_name": HOSTILE,
        "mediums": mediums,
        "items": [
            {"html": mark_safe(f"<tr><td>card {i} &amp; co</td></tr>"), "text": f"card {i} & <co>"}
            for i in range(items)
        ],
        "view_all_url": "http://127.0.0.1:8000/opportunities/",
        "unsubscribe_url": "http://127.0.0.1:8000/unsubscribe/1:a-b_c/?x=1&y=2",
        "footer_address": "Proletto, Venezia",
        "open_pixel_url": open_pixel_url,
        "preferences_url": preferences_url,
    }


@pytest.mark.parametrize("items", [1, 2, 5])
@pytest.mark.parametrize("mediums", ["", "Painting, <Sculpture> & more"])
@pytest.mark.parametrize("open_pixel_url", ["", "http://127.0.0.1:8000/d/open/1:x/?a=1&b=2"])
@pytest.mark.parametrize("general_picks", [False, True])
@pytest.mark.parametrize("preferences_url", ["", "http://127.0.0.1:8000/prefs/?a=1&b=2"])
def test_the_outbox_stores_the_same_email_as_from_a_whole_render(
    items, mediums, open_pixel_url, general_picks, preferences_url
):
    context = frame_context(
        items=items,
        mediums=mediums,
        open_pixel_url=open_pixel_url,
        general_picks=general_picks,
        preferences_url=preferences_url,
    )
    draft = OutboxDraft(
        recipient="giulia@artists.test",
        template=DIGEST_TEMPLATE,
        context=context,
        category=Category.DIGEST,
        idempotency_key="whole",
        headers=marketing_headers(context["unsubscribe_url"]),
    )
    frames = DigestFrames()
    # A frame is rendered for the first reader of its shape and reused for the next ones.
    frames.render({**context, "greeting_name": "First", "unsubscribe_url": "http://x/u/1/"})
    ids = outbox_enqueue_many(
        [draft, replace(draft, idempotency_key="slots", rendered=frames.render(context))]
    )
    whole, slotted = (
        EmailOutbox.objects.values_list("subject", "body_text", "body_html").get(pk=ids[key])
        for key in ("whole", "slots")
    )
    assert slotted == whole


@pytest.mark.parametrize(
    "fields",
    [
        {"title": 'Call <script>alert(1)</script> & "quotes"', "organisation": "O'Brien & Co"},
        {"organisation": "", "deadline": None, "is_remote": True, "fee_amount": Decimal("0")},
        {"description": "word " * 100, "fee_amount": Decimal("25.5"), "fee_currency": "EUR"},
    ],
)
def test_a_filled_card_is_the_whole_render_of_the_card_templates(fields):
    item = opportunity(**fields)
    click_url, deadline = "https://calls.example/a?b=1&c=<2>", "1 December 2026 & 'later'"
    links = {"more_url": f"{click_url}&more", "less_url": f"{click_url}&less"}
    filled = OpportunityCard.render(item).fill(
        click_url=click_url, deadline_label=deadline, discovery=True, **links
    )
    html, text = card_render(
        item,
        click_url=click_url,
        deadline_label=deadline,
        discovery_label=DISCOVERY_LABEL,
        **links,
    )
    assert (filled["html"], filled["text"]) == (html, text)


def test_a_filter_on_a_slotted_value_is_caught_not_sent():
    with pytest.raises(ValueError, match="marker"):
        Slotted(f"Hi {slot('greeting_name').upper()}", autoescape=False)


def test_a_deadline_with_a_time_is_shown_in_the_readers_zone_with_the_zone_named():
    item = opportunity(deadline=dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC))
    cards = DigestCards([item])
    assert cards.deadline_label(cards[item.id], "Europe/London") == (
        "1 December 2026, 23:30 (Europe/London time)"
    )
    assert cards.deadline_label(cards[item.id], "Asia/Tokyo") == (
        "2 December 2026, 08:30 (Asia/Tokyo time)"
    )
