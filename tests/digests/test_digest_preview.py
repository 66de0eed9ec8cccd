"""The digest preview: this week's digest as sent and, apart, the next picks, with no live
token in either (a preview must not be a way to unsubscribe someone or fake their click)."""

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from digests import tokens
from digests.models import DigestEmail
from digests.services.digest import digests_send_due
from tests.digests.digest_data import NOW, artist, opportunity

pytestmark = pytest.mark.django_db

PREVIEW = "/admin/digests/digestemail/preview/"


@pytest.fixture
def previewer(staff_with_permissions):
    client = Client()
    client.force_login(staff_with_permissions("digests.view_digestemail", "digests.preview_digest"))
    return client


@pytest.fixture
def sent_this_week():
    for i in range(4):
        opportunity(f"Painting call {i}")
    user = artist("giulia")
    with time_machine.travel(NOW, tick=False):
        digests_send_due(now=NOW)
    return DigestEmail.objects.select_related("outbox").get(user=user)


def live_tokens(digest):
    found = [tokens.unsubscribe_token(digest.user_id), tokens.open_token(digest.pk)]
    found += [tokens.click_token(digest.pk, item.opportunity_id) for item in digest.items.all()]
    return found


def test_redact_replaces_the_token_of_every_link_kind():
    links = [
        reverse("digests:unsubscribe", args=[tokens.unsubscribe_token(12)]),
        reverse("digests:click", args=[tokens.click_token(3, 4)]),
        reverse("digests:open", args=[tokens.open_token(3)]),
    ]
    text = " ".join(f'<a href="https://proletto.example{link}">x</a>' for link in links)
    redacted = tokens.tokens_redact(text)
    assert redacted.count(tokens.REDACTED) == 3
    assert "/unsubscribe/TOKEN-REMOVED/" in redacted
    assert "/d/open/TOKEN-REMOVED.gif" in redacted
    for link in links:
        assert link not in redacted


def test_the_stored_email_did_carry_live_tokens(sent_this_week):
    # The premise of the tests below: what was sent has them, so the preview must remove them.
    body = sent_this_week.outbox.body_html
    assert all(token in body for token in live_tokens(sent_this_week))


def test_preview_shows_this_weeks_digest_as_sent_with_its_subject(previewer, sent_this_week):
    with time_machine.travel(NOW, tick=False):
        page = previewer.get(PREVIEW, {"user": "giulia"}).content.decode()
    assert "Sent this week" in page and "Week of 2026-11-23" in page
    assert "Giulia, 4 opportunities for you this week" in page
    assert page.count("Painting call") >= 4


def test_preview_shows_the_next_picks_apart_with_their_subject(previewer, sent_this_week):
    with time_machine.travel(NOW, tick=False):
        page = previewer.get(PREVIEW, {"user": "giulia"}).content.decode()
    next_picks = page[page.index('id="next-picks"') :]
    assert "Subject:" in next_picks and "for you this week" in next_picks


def test_preview_carries_no_live_token(previewer, sent_this_week):
    with time_machine.travel(NOW, tick=False):
        page = previewer.get(PREVIEW, {"user": "giulia"}).content.decode()
    for token in live_tokens(sent_this_week):
        assert token not in page
    assert tokens.REDACTED in page


def test_preview_of_a_user_without_a_digest_this_week_says_so(previewer):
    opportunity("Painting call")
    artist("free", pro=False)
    page = previewer.get(PREVIEW, {"user": "free"}).content.decode()
    assert "No digest for free this week yet." in page
    assert not DigestEmail.objects.exists()
