"""A link scanner that follows every link of a digest at once, in parallel requests, is still
a burst: none of its visits counts as the artist's click (PostgreSQL, real threads)."""

import datetime as dt
import threading

import pytest
from django.db import connection

from digests.models import DigestEmail
from digests.services.digest import digests_send_due
from digests.services.tracking import digest_record_click
from tests.digests.digest_data import NOW, artist, opportunity

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_parallel_visits_of_every_link_are_a_burst_and_count_no_click():
    for i in range(8):
        opportunity(f"Call {i}")
    artist("giulia")
    digests_send_due(now=NOW)
    digest = DigestEmail.objects.get()
    items = list(digest.items.all())
    at = NOW + dt.timedelta(minutes=1)
    barrier = threading.Barrier(len(items))
    errors = []

    def follow(item):
        try:
            DigestEmail.objects.exists()  # each thread's connection is open before they race
            barrier.wait()
            digest_record_click(digest_id=digest.id, opportunity_id=item.opportunity_id, at=at)
        except Exception as exc:  # surfaced below: a thread's exception would vanish
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=follow, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert not digest.items.filter(clicked_at__isnull=False).exists()
    assert DigestEmail.objects.with_delivery().get(pk=digest.pk).clicked_at is None
