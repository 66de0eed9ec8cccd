"""Cold start: a Pro artist whose profile is empty, or fits nothing, gets the best general
picks, labelled as such, with an invitation to complete the profile (issue 15: they got
nothing, and send_test_digest said "no open opportunity fits")."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from digests.models import DigestEmail, DigestItem
from digests.services.digest import digest_picks_for, digests_send_due
from tests.digests.digest_data import NOW, artist, opportunity

pytestmark = pytest.mark.django_db

EMPTY_PROFILE = {"mediums": [], "interests": [], "country": "", "career_stage": ""}


def clicked_by(count: int, item) -> None:
    """`count` other artists clicked `item` in an earlier digest."""
    for _ in range(count):
        digest = DigestEmail.objects.create(
            user=artist(), week_start=dt.date(2026, 11, 16), status=DigestEmail.Status.QUEUED
        )
        DigestItem.objects.create(
            digest=digest, opportunity=item, position=1, score=1, reasons=[], clicked_at=NOW
        )


@pytest.fixture
def catalogue():
    return {
        "open_to_all": opportunity("Open to all", mediums=[]),
        "popular": opportunity("Popular", mediums=[]),
        "painting": opportunity("Painting only", mediums=["painting"]),
        "too_late": opportunity("Too late", mediums=[], deadline=NOW + dt.timedelta(days=1)),
    }


def test_the_weekly_run_queues_a_digest_for_a_pro_artist_with_an_empty_profile(catalogue):
    user = artist("newcomer", **EMPTY_PROFILE)
    counts = digests_send_due(now=NOW)
    digest = DigestEmail.objects.get(user=user)
    assert digest.status == DigestEmail.Status.QUEUED
    assert digest.opportunity_count == 3  # "too late" is not sent to anyone
    assert counts["queued"] == 1


def test_general_picks_are_open_to_all_mediums_and_most_clicked_first(catalogue):
    clicked_by(2, catalogue["popular"])
    picks = digest_picks_for(user=artist("newcomer", **EMPTY_PROFILE), now=NOW)
    assert [pick.item_id for pick in picks] == [
        catalogue["popular"].id,
        catalogue["open_to_all"].id,
        catalogue["painting"].id,
    ]
    assert picks[0].reasons[:3] == (
        "general pick",
        "open to all mediums",
        "clicked by 2 other artists",
    )


def test_the_email_says_they_are_general_picks_and_invites_to_complete_the_profile(
    catalogue, settings
):
    settings.DIGEST_PROFILE_URL = "https://proletto.test/account/profile"
    user = artist("newcomer", **EMPTY_PROFILE)
    digests_send_due(now=NOW)
    email = DigestEmail.objects.get(user=user).outbox
    for body in (email.body_text, email.body_html):
        assert "this week's best general picks" in body
        assert "add your mediums and interests to your profile" in body
        assert "https://proletto.test/account/profile" in body
        assert "picked for your practice (" not in body


def test_an_artist_whose_profile_fits_gets_no_general_label(catalogue):
    user = artist("painter", mediums=["painting"])
    digests_send_due(now=NOW)
    email = DigestEmail.objects.get(user=user).outbox
    assert "general picks" not in email.body_text
    assert "picked for your practice (Painting)" in email.body_text


def test_general_picks_still_respect_eligibility(catalogue):
    opportunity("Students only", mediums=[], eligibility="Open to students only.")
    picks = digest_picks_for(user=artist("newcomer", **EMPTY_PROFILE), now=NOW)
    assert len(picks) == 3
    assert all(pick.item_id in {o.id for o in catalogue.values()} for pick in picks)


def test_send_test_digest_works_for_an_empty_profile(catalogue):
    user = artist("newcomer", **EMPTY_PROFILE)
    out = StringIO()
    call_command("send_test_digest", "newcomer", stdout=out)
    digest = DigestEmail.objects.get(user=user)
    assert (digest.status, digest.opportunity_count) == (DigestEmail.Status.TEST, 3)
    assert "this week's best general picks" in digest.outbox.body_text
