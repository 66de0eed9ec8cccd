import datetime as dt

import pytest

from digests.models import DigestEmail
from digests.services.digest import digests_send_due
from tests.digests.digest_data import NOW, artist, opportunity

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue():
    return [opportunity(f"Painting call {i}") for i in range(7)]


def test_it_leaves_out_an_artist_who_paused_the_digest_past_this_run(catalogue):
    artist("resting", digest_paused_until=NOW + dt.timedelta(days=10))
    assert digests_send_due(now=NOW)["users"] == 0
    assert not DigestEmail.objects.exists()


def test_it_sends_again_once_the_pause_is_over(catalogue):
    user = artist("back", digest_paused_until=NOW - dt.timedelta(minutes=1))
    digests_send_due(now=NOW)
    assert DigestEmail.objects.get(user=user).status == DigestEmail.Status.QUEUED
