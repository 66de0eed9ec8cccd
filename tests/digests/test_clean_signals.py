"""What counts as the artist's: link scanners' visits do not, test digests count as sent, and
an artist who never clicks keeps the digest their profile gives."""

import datetime as dt

import pytest
import time_machine

from digests import tokens
from digests.models import DigestEmail, DigestItem
from digests.services.digest import digest_picks_for, digest_send_test, digests_send_due
from tests.digests.digest_data import NOW, artist, opportunity

pytestmark = pytest.mark.django_db
BROWSER = {"HTTP_USER_AGENT": "Mozilla/5.0 (Macintosh) Safari/605.1.15"}
NEXT_WEEK = NOW + dt.timedelta(weeks=1)


@pytest.fixture
def catalogue():
    for i in range(20):
        opportunity(f"Painting call {i}", kind="residency" if i % 2 else "open_call")
    for i in range(10):
        opportunity(f"Video call {i}", mediums=["video"], kind="grant")


@pytest.fixture
def giulias_digest(catalogue):
    """The weekly digest of one artist, sent."""
    user = artist("giulia")
    digests_send_due(now=NOW)
    return DigestEmail.objects.get(user=user)


def click_path(digest, item):
    return f"/d/click/{tokens.click_token(digest.id, item.opportunity_id)}/"


def feedback_path(digest, item, signal):
    return f"/d/{signal}/{tokens.feedback_token(digest.id, item.opportunity_id, signal)}/"


def next_week_picks(user):
    return [pick.item_id for pick in digest_picks_for(user=user, now=NEXT_WEEK)]


def test_a_scanner_burst_does_not_move_the_picks(client, catalogue):
    user = artist("giulia")
    twin = artist("marta")
    digests_send_due(now=NOW)
    digest = DigestEmail.objects.get(user=user)
    # A mail scanner with a browser's user agent follows every link within seconds.
    for second, item in enumerate(digest.items.order_by("position")):
        at = NOW + dt.timedelta(minutes=1, seconds=second)
        with time_machine.travel(at, tick=False):
            client.get(click_path(digest, item), **BROWSER)
            client.get(feedback_path(digest, item, "more"), **BROWSER)
            client.get(feedback_path(digest, item, "less"), **BROWSER)
    assert not digest.items.filter(clicked_at__isnull=False).exists()
    assert not digest.items.exclude(feedback="").exists()
    twin_digest = DigestEmail.objects.get(user=twin)
    assert len(next_week_picks(user)) == len(next_week_picks(twin)) == 5
    shown = {item.opportunity_id for item in digest.items.all()}
    twin_shown = {item.opportunity_id for item in twin_digest.items.all()}
    assert shown == twin_shown
    assert next_week_picks(user) == next_week_picks(twin)


def test_an_artists_quick_answers_on_three_cards_count(client, giulias_digest):
    digest = giulias_digest
    items = list(digest.items.order_by("position"))[:3]
    # Opened an hour after delivery, then three answers two seconds apart.
    for second, (item, signal) in enumerate(zip(items, ["more", "less", "more"], strict=True)):
        with time_machine.travel(NOW + dt.timedelta(hours=1, seconds=2 * second), tick=False):
            client.get(feedback_path(digest, item, signal), **BROWSER)
    answers = digest.items.order_by("position").values_list("feedback", flat=True)[:3]
    assert list(answers) == ["more", "less", "more"]


def test_a_scanner_following_every_answer_before_the_card_links_counts_nothing(
    client, giulias_digest
):
    digest = giulias_digest
    items = list(digest.items.order_by("position"))
    with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):
        for item in items:
            client.get(feedback_path(digest, item, "more"), **BROWSER)
        for item in items:
            client.get(feedback_path(digest, item, "less"), **BROWSER)
        for item in items:
            client.get(click_path(digest, item), **BROWSER)
    assert not digest.items.exclude(feedback="").exists()
    assert not digest.items.filter(clicked_at__isnull=False).exists()


def test_a_scanner_following_only_the_answer_links_counts_nothing(client, giulias_digest):
    digest = giulias_digest
    for second, item in enumerate(digest.items.order_by("position")):
        with time_machine.travel(NOW + dt.timedelta(minutes=1, seconds=second), tick=False):
            client.get(feedback_path(digest, item, "more"), **BROWSER)
            client.get(feedback_path(digest, item, "less"), **BROWSER)
    assert not digest.items.exclude(feedback="").exists()
    assert DigestEmail.objects.with_delivery().get(pk=digest.pk).opened_at is None


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("head", BROWSER),
        ("get", {**BROWSER, "HTTP_SEC_PURPOSE": "prefetch;prerender"}),
        ("get", {"HTTP_USER_AGENT": "Mozilla/5.0 (compatible; Barracuda Sentinel)"}),
    ],
)
def test_a_scanners_request_is_redirected_but_not_counted(client, giulias_digest, method, headers):
    digest = giulias_digest
    item = digest.items.get(position=1)
    response = getattr(client, method)(click_path(digest, item), **headers)
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.clicked_at is None


def test_the_artists_own_click_after_a_burst_counts(client, giulias_digest):
    digest = giulias_digest
    items = list(digest.items.order_by("position"))
    with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):
        for item in items:
            client.get(click_path(digest, item), **BROWSER)
    with time_machine.travel(NOW + dt.timedelta(hours=3), tick=False):
        client.get(click_path(digest, items[2]), **BROWSER)
    assert list(digest.items.filter(clicked_at__isnull=False)) == [items[2]]


def test_no_item_is_sent_twice_to_an_artist_test_digests_included(catalogue):
    user = artist("giulia")
    test = digest_send_test(user=user, now=NOW - dt.timedelta(days=2))
    digests_send_due(now=NOW)
    digest_send_test(user=user, now=NOW + dt.timedelta(days=1))
    digests_send_due(now=NEXT_WEEK)
    sent = list(
        DigestItem.objects.filter(digest__user=user).values_list("opportunity_id", flat=True)
    )
    assert test.status == DigestEmail.Status.TEST
    assert len(sent) == 20
    assert len(set(sent)) == len(sent)


def test_an_artist_who_never_clicks_keeps_a_stable_digest(client, catalogue):
    silent = artist("giulia")
    clicker = artist("marta")
    digests_send_due(now=NOW)
    digest = DigestEmail.objects.get(user=silent)
    # Another artist's click gives the learner something, so the silent one's digest could move.
    clicked = DigestEmail.objects.get(user=clicker).items.get(position=2)
    client.get(click_path(clicked.digest, clicked), **BROWSER)
    before = next_week_picks(silent)
    # Opened, never clicked: what was shown and left unclicked moves nothing.
    client.get(f"/d/open/{tokens.open_token(digest.id)}.gif", **BROWSER)
    assert DigestEmail.objects.with_delivery().get(pk=digest.pk).opened_at is not None
    assert next_week_picks(silent) == before


def test_a_scanner_burst_leaves_the_email_neither_clicked_nor_opened(client, giulias_digest):
    digest = giulias_digest
    for second, item in enumerate(digest.items.order_by("position")):
        with time_machine.travel(NOW + dt.timedelta(minutes=1, seconds=second), tick=False):
            client.get(click_path(digest, item), **BROWSER)
    delivery = DigestEmail.objects.with_delivery().get(pk=digest.pk)
    assert delivery.clicked_at is None
    assert delivery.opened_at is None
