"""'More like this' and 'not for me': signed one-click links on every card of the digest."""

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core import mail

from digests import tokens
from digests.models import DigestEmail, DigestItem
from digests.services.digest import digests_send_due
from outreach.services.relay import outbox_drain
from tests.digests.digest_data import NOW, artist, opportunity

pytestmark = pytest.mark.django_db
BROWSER = {"HTTP_USER_AGENT": "Mozilla/5.0 (Macintosh) Safari/605.1.15"}


@pytest.fixture
def sent_digest():
    for i in range(12):
        opportunity(f"Call {i}")
    user = artist("giulia")
    digests_send_due(now=NOW)
    outbox_drain()
    return DigestEmail.objects.get(user=user), mail.outbox[0].alternatives[0][0]


def feedback_paths(html, signal):
    return [
        urlsplit(url).path
        for url in re.findall(rf'<a href="([^"]+)" data-feedback="{signal}"', html)
    ]


def test_every_card_carries_a_more_and_a_less_link(sent_digest):
    digest, html = sent_digest
    assert len(feedback_paths(html, "more")) == digest.items.count() == 5
    assert len(feedback_paths(html, "less")) == 5


def test_a_more_like_this_link_records_the_answer_and_thanks_the_artist(client, sent_digest):
    digest, html = sent_digest
    response = client.get(feedback_paths(html, "more")[0], **BROWSER)
    assert response.status_code == 200
    assert b"Thank you" in response.content
    first = digest.items.get(position=1)
    assert first.feedback == DigestItem.Feedback.MORE


def test_following_the_same_link_twice_changes_nothing(client, sent_digest):
    digest, html = sent_digest
    with time_machine.travel(NOW.replace(hour=12), tick=False):
        client.get(feedback_paths(html, "less")[1], **BROWSER)
    with time_machine.travel(NOW.replace(hour=15), tick=False):
        again = client.get(feedback_paths(html, "less")[1], **BROWSER)
    assert again.status_code == 200
    item = digest.items.get(position=2)
    assert (item.feedback, item.feedback_at) == ("less", NOW.replace(hour=12))


def test_the_latest_answer_counts(client, sent_digest):
    digest, html = sent_digest
    with time_machine.travel(NOW.replace(hour=12), tick=False):
        client.get(feedback_paths(html, "less")[0], **BROWSER)
    with time_machine.travel(NOW.replace(hour=13), tick=False):
        client.get(feedback_paths(html, "more")[0], **BROWSER)
    assert digest.items.get(position=1).feedback == "more"


def test_a_changed_feedback_link_is_refused_and_changes_nothing(client, sent_digest):
    digest, html = sent_digest
    path = feedback_paths(html, "more")[0]
    response = client.get(path.replace("/more/", "/less/"), **BROWSER)
    assert response.status_code == 400
    forged = tokens.feedback_token(digest.id, 999999, "more").replace(":", ":x", 1)
    assert client.get(f"/d/more/{forged}/", **BROWSER).status_code == 400
    assert not DigestItem.objects.exclude(feedback="").exists()


def test_a_link_for_an_item_the_digest_did_not_carry_is_refused(client, sent_digest):
    digest, _ = sent_digest
    token = tokens.feedback_token(digest.id, 999999, "more")
    assert client.get(f"/d/more/{token}/", **BROWSER).status_code == 400


def test_the_answer_shows_in_why_next_weeks_picks_were_picked(client, sent_digest):
    digest, html = sent_digest
    client.get(feedback_paths(html, "more")[0], **BROWSER)
    digests_send_due(now=NOW + dt.timedelta(weeks=1))
    later = DigestItem.objects.filter(digest__user=digest.user).exclude(digest=digest)
    assert any(
        any(reason.startswith("you asked for more like") for reason in item.reasons)
        for item in later
    )
