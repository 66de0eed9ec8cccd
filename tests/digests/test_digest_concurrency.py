import threading

import pytest
from django.db import connection

from digests.models import DigestEmail, DigestItem
from digests.services.digest import digests_send_due
from outreach.models import EmailOutbox
from tests.digests.digest_data import NOW, artist, opportunity

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_concurrent_runs_give_each_artist_exactly_one_digest():
    for i in range(8):
        opportunity(f"Call {i}")
    users = [artist(f"c{i}") for i in range(120)]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(digests_send_due(now=NOW, batch_size=25))
        except Exception as exc:  # surfaced below: a thread's exception would vanish
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert DigestEmail.objects.count() == len(users)
    assert EmailOutbox.objects.count() == len(users)
    assert DigestItem.objects.count() == 5 * len(users)
    assert sum(r["queued"] for r in results) == len(users)
