"""Writes to the opportunity catalogue: upsert by canonical URL, refresh, expire."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from digests.models import Opportunity

UPSERT_BATCH = 500
# last_seen_at is refreshed at most this often, so an unchanged re-scrape writes nothing.
SEEN_RESOLUTION = timedelta(days=1)
UPDATE_FIELDS = [
    "title",
    "organisation",
    "kind",
    "description",
    "deadline",
    "deadline_date",
    "deadline_timezone",
    "city",
    "country",
    "location_text",
    "is_remote",
    "mediums",
    "tags",
    "eligibility",
    "fee_amount",
    "fee_currency",
    "fee_text",
    "source",
    "status",
    "content_hash",
    "last_seen_at",
]


def opportunities_upsert(*, source_id: int, items: list[dict], now, dry_run: bool = False) -> dict:
    """Insert new opportunities and update changed ones, keyed by canonical URL.

    Unchanged items (same content hash) cost no write, apart from a last_seen_at refresh at
    most once a day. An item another source already lists stays with that source.
    """
    by_url, duplicates = {}, 0
    for item in items:
        if item["url"] in by_url:
            duplicates += 1
        else:
            by_url[item["url"]] = item
    counts = {"created": 0, "updated": 0, "unchanged": 0, "duplicates": duplicates}
    urls = list(by_url)
    for start in range(0, len(urls), UPSERT_BATCH):
        batch = urls[start : start + UPSERT_BATCH]
        with transaction.atomic():
            _upsert_batch(
                [by_url[url] for url in batch],
                source_id=source_id,
                now=now,
                dry_run=dry_run,
                counts=counts,
            )
    return counts


def _upsert_batch(items, *, source_id, now, dry_run, counts) -> None:
    existing = {
        url: (pk, content_hash, owner, last_seen_at)
        for url, pk, content_hash, owner, last_seen_at in Opportunity.objects.filter(
            url__in=[item["url"] for item in items]
        ).values_list("url", "pk", "content_hash", "source_id", "last_seen_at")
    }
    to_create, to_update, seen_ids = [], [], []
    for item in items:
        status = (
            Opportunity.Status.EXPIRED
            if item["deadline"] is not None and item["deadline"] < now
            else Opportunity.Status.ACTIVE
        )
        found = existing.get(item["url"])
        if found is None:
            to_create.append(
                Opportunity(
                    **item, source_id=source_id, status=status, first_seen_at=now, last_seen_at=now
                )
            )
            continue
        pk, content_hash, owner, last_seen_at = found
        if owner not in (None, source_id) or content_hash == item["content_hash"]:
            counts["unchanged"] += 1
            if owner == source_id and last_seen_at < now - SEEN_RESOLUTION:
                seen_ids.append(pk)
            continue
        to_update.append(
            Opportunity(pk=pk, **item, source_id=source_id, status=status, last_seen_at=now)
        )
    counts["created"] += len(to_create)
    counts["updated"] += len(to_update)
    if dry_run:
        return
    if to_create:
        # Another process may insert the same URL between our read and this write: the
        # unique constraint turns that into an update instead of an error.
        Opportunity.objects.bulk_create(
            to_create,
            batch_size=UPSERT_BATCH,
            update_conflicts=True,
            unique_fields=["url"],
            update_fields=UPDATE_FIELDS,
        )
    if to_update:
        Opportunity.objects.bulk_update(to_update, UPDATE_FIELDS, batch_size=UPSERT_BATCH)
    if seen_ids:
        Opportunity.objects.filter(pk__in=seen_ids).update(last_seen_at=now)


def opportunities_touch(*, source_id: int, listed_since, now) -> int:
    """The source answered "not modified": what it listed at its last parse is still listed.

    Those are its opportunities seen at that parse, give or take the daily resolution of
    last_seen_at; one UPDATE that changes nothing when they were refreshed within a day.
    """
    if listed_since is None:
        return 0
    return Opportunity.objects.filter(
        source_id=source_id,
        last_seen_at__gte=listed_since - SEEN_RESOLUTION,
        last_seen_at__lt=now - SEEN_RESOLUTION,
    ).update(last_seen_at=now)


def _expired_queryset(now):
    return Opportunity.objects.filter(status=Opportunity.Status.ACTIVE, deadline__lt=now)


def opportunities_expire(*, now=None) -> int:
    """Mark active opportunities whose deadline has passed as expired; returns how many."""
    return _expired_queryset(now or timezone.now()).update(status=Opportunity.Status.EXPIRED)
