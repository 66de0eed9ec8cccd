"""The weekly digest: pick, store and queue each user's digest; test sends and previews."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from digests import selectors, tokens, weeks
from digests.errors import ConsentRefused, DigestsError, TestDigestRateLimited
from digests.general_picks import GeneralPicks
from digests.models import DigestEmail, DigestItem, Opportunity
from digests.recommender import Catalogue
from digests.rendering import DIGEST_TEMPLATE, DigestCards, DigestFrames
from digests.services.digest_batch import DigestRun, digest_batch_build, digest_batch_write
from digests.services.digest_email import digest_email_for_picks
from outreach.models import Category
from outreach.selectors import suppression_for
from outreach.services.outbox import OutboxDraft, email_render, outbox_enqueue_many
from proletto.bulk import rows_insert
from proletto.gc_relaxed import gc_relaxed
from proletto.write_behind import WriteBehind


def digests_send_due(*, now=None, batch_size: int = 1000) -> dict:
    """Queue this week's digest for every candidate whose local send time has come.

    Safe to run twice and to stop midway: each batch is one transaction, a digest row per
    (user, week) is unique in the database, items and emails are written only for the rows
    the batch inserted, and the outbox key is per (user, week). Each batch is written while
    the next one is picked and rendered (digests/services/digest_batch.py), except inside a
    caller's transaction or on SQLite, where batches are written one after the other.
    """
    now = now or timezone.now()
    counts = {"users": 0, "queued": 0, "skipped": 0, "taken_by_other_run": 0}
    by_week = weeks.due_zones_by_week(selectors.digest_candidate_zones(now=now), now)
    if by_week:
        # A run allocates millions of short-lived containers: see proletto/gc_relaxed.py.
        with gc_relaxed():
            results = _digests_run(by_week=by_week, now=now, batch_size=batch_size)
        for result in results:
            for key, value in result.items():
                counts[key] += value
    return counts


def _digests_run(*, by_week: dict, now, batch_size: int) -> list[dict]:
    """The counts of each batch of the run (digest_batch_write's)."""
    catalogue = Catalogue(selectors.catalogue_items(now=now), today=now.date())
    run = DigestRun(
        catalogue=catalogue,
        general=GeneralPicks(catalogue, clicks=selectors.opportunity_click_counts(now=now)),
        priors=selectors.taste_priors(now=now),
        run_id=uuid.uuid4().hex,
        now=now,
    )
    batches = _recipient_batches(by_week=by_week, now=now, batch_size=batch_size)
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with WriteBehind(digest_batch_write) as writer:
            for week, users in batches:
                writer.submit(digest_batch_build(run=run, week=week, users=users))
        return writer.results
    results = []
    for week, users in batches:
        # On SQLite the ids are taken under this transaction's write lock.
        with transaction.atomic():
            batch = digest_batch_build(run=run, week=week, users=users)
            results.append(digest_batch_write(batch))
    return results


def _recipient_batches(*, by_week: dict, now, batch_size: int):
    """(week, up to batch_size PROFILE_FIELDS dicts), by week and user id."""
    for week, zones in sorted(by_week.items()):
        last_id = 0
        while True:
            users = list(
                selectors.digest_recipients(week=week, zones=zones, now=now)
                .filter(pk__gt=last_id)
                .order_by("pk")
                .values(*selectors.PROFILE_FIELDS)[:batch_size]
            )
            if not users:
                break
            last_id = users[-1]["id"]
            yield week, users


def _digest_store_items(digest_ids: dict[int, int], picks_by_user: dict) -> None:
    # The digests were created by this transaction, so no item can conflict: COPY is safe.
    rows_insert(
        DigestItem,
        ["digest_id", "opportunity_id", "position", "score", "reasons"],
        (
            (digest_id, pick.item_id, position, pick.score, list(pick.reasons))
            for user_id, digest_id in digest_ids.items()
            for position, pick in enumerate(picks_by_user[user_id], start=1)
        ),
    )


def _digest_test_enqueue(*, user: dict, digest_id: int, picks: list) -> None:
    cards = DigestCards()
    cards.load({pick.item_id for pick in picks})
    context, headers = digest_email_for_picks(
        user=user, digest_id=digest_id, picks=picks, cards=cards
    )
    draft = OutboxDraft(
        recipient=user["email"],
        template=DIGEST_TEMPLATE,
        context=context,
        category=Category.DIGEST,
        idempotency_key=f"digest-test:{digest_id}",
        headers=headers,
        user_id=user["id"],
        rendered=DigestFrames().render(context),
    )
    outbox_ids = outbox_enqueue_many([draft])
    DigestEmail.objects.filter(pk=digest_id).update(outbox_id=outbox_ids[draft.idempotency_key])


def digest_send_test(*, user, requested_by=None, now=None) -> DigestEmail:
    """Send `user` the digest they would get now, whatever their subscription, as a test.

    `requested_by` (a staff user) is recorded on the digest and limited to
    TEST_DIGEST_LIMIT_PER_HOUR test digests an hour (TestDigestRateLimited)."""
    now = now or timezone.now()
    _refuse_test_without_consent(user)
    if requested_by is not None:
        _test_digest_limit_check(requested_by=requested_by, now=now)
    profile_fields = {field: getattr(user, field) for field in selectors.PROFILE_FIELDS}
    picks = digest_picks_for(user=user, now=now)
    week = weeks.week_of(now.astimezone(user.zone).date())
    with transaction.atomic():
        if requested_by is not None:
            # Two clicks at once from one staff user: the second waits here, then counts
            # (before "nothing to send": the first click's digest may have used the picks).
            get_user_model().objects.select_for_update().filter(pk=requested_by.pk).exists()
            _test_digest_limit_check(requested_by=requested_by, now=now)
        if not picks:
            raise DigestsError(
                f"no open opportunity {user.username} may apply to (eligibility, already "
                "sent): nothing to send"
            )
        digest = DigestEmail.objects.create(
            user=user,
            week_start=week,
            status=DigestEmail.Status.TEST,
            opportunity_count=len(picks),
            created_at=now,
            requested_by=requested_by,
        )
        _digest_store_items({user.id: digest.id}, {user.id: picks})
        _digest_test_enqueue(user=profile_fields, digest_id=digest.id, picks=picks)
    digest.refresh_from_db()
    return digest


def _refuse_test_without_consent(user) -> None:
    # A test row the relay would never send must not be reported as queued.
    if user.unsubscribed_at is not None:
        raise ConsentRefused(
            f"{user.username} unsubscribed from marketing email on "
            f"{user.unsubscribed_at:%Y-%m-%d %H:%M} UTC: no digest is sent to them"
        )
    suppression = suppression_for(user.email, Category.DIGEST)
    if suppression is not None:
        until = (
            f" until {suppression.expires_at:%Y-%m-%d %H:%M} UTC" if suppression.expires_at else ""
        )
        raise ConsentRefused(
            f"{user.username}'s address is suppressed{until} ({suppression.reason})"
        )


def _test_digest_limit_check(*, requested_by, now) -> None:
    limit = settings.TEST_DIGEST_LIMIT_PER_HOUR
    oldest = selectors.test_digests_requested_since(
        requested_by=requested_by, since=now - timedelta(hours=1), limit=limit
    )
    if oldest is not None:
        retry_after = max(1, int((oldest + timedelta(hours=1) - now).total_seconds()) + 1)
        raise TestDigestRateLimited(
            f"{requested_by.get_username()} sent {limit} test digests in the last hour "
            f"(TEST_DIGEST_LIMIT_PER_HOUR); try again in {retry_after} s",
            retry_after_seconds=retry_after,
        )


def digest_picks_for(*, user, now=None) -> list:
    """What the recommender picks for `user` now (no writes): for tests, previews, the admin."""
    now = now or timezone.now()
    profile_fields = {field: getattr(user, field) for field in selectors.PROFILE_FIELDS}
    catalogue = Catalogue(selectors.catalogue_items(now=now), today=now.date())
    priors = selectors.taste_priors(now=now)
    profile = selectors.digest_profiles([profile_fields], priors=priors, now=now)[user.id]
    limit = settings.DIGEST_OPPORTUNITY_COUNT
    picks = catalogue.recommend(profile, limit=limit)
    if not picks:
        general = GeneralPicks(catalogue, clicks=selectors.opportunity_click_counts(now=now))
        picks = general.recommend(profile, limit=limit)
    return picks


def digest_preview(*, user, now=None) -> tuple[str, str, str]:
    """(subject, body_text, body_html) of the digest `user` would get from the next picks,
    with untracked links and no live unsubscribe token; nothing is written."""
    picks = digest_picks_for(user=user, now=now)
    opportunity_ids = [pick.item_id for pick in picks]
    cards = DigestCards(Opportunity.objects.filter(pk__in=opportunity_ids))
    profile_fields = {field: getattr(user, field) for field in selectors.PROFILE_FIELDS}
    context, _ = digest_email_for_picks(
        user=profile_fields, digest_id=None, picks=picks, cards=cards
    )
    rendered = email_render(template=DIGEST_TEMPLATE, context=context)
    return tuple(tokens.tokens_redact(part) for part in rendered)
