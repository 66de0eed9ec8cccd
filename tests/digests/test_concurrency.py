"""Two scrapers storing the same items at the same moment, on PostgreSQL."""

import datetime as dt
import threading

import pytest
from django.db import connection

from digests.models import Opportunity
from digests.scraping.normalise import RawItem, normalise_item
from digests.services.opportunities import opportunities_upsert

from .conftest import NOW

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_upserts_of_the_same_new_items_at_once_store_each_item_once(make_source):
    source = make_source("Shared", "https://shared.example/feed")
    items = [
        normalise_item(
            RawItem(title=f"Call {i}", link=f"https://shared.example/{i}"),
            base_url="https://shared.example/",
            tz=dt.UTC,
        )
        for i in range(300)
    ]
    barrier = threading.Barrier(2)
    errors = []

    def upsert():
        try:
            barrier.wait()
            opportunities_upsert(source_id=source.pk, items=items, now=NOW)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=upsert) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Opportunity.objects.count() == 300
