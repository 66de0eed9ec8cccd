"""The weekly digest: pick, store and queue each user's digest; test sends and previews."""

import functools
import logging
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import CharField, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.urls import reverse
from django.utils import timezone

from digests import selectors, tokens, weeks
from digests.errors import ConsentRefused, DigestsError, TestDigestRateLimited
from digests.general_picks import GeneralPicks, are_general
from digests.models import DigestEmail, DigestItem, Opportunity
from digests.recommender import Catalogue
from digests.rendering import DIGEST_TEMPLATE, DigestCards, DigestFrames
from outreach.consent import marketing_headers
from outreach.models import Category, EmailOutbox
from outreach.selectors import suppressed_addresses, suppression_for
from outreach.services.outbox import OutboxDraft, email_render, outbox_enqueue_many
from proletto.bulk import objs_insert_ignoring_conflicts, rows_insert
from proletto.preferences_link import preferences_url
from proletto.vocabulary import MEDIUMS

logger = logging.getLogger(__name__)


def digests_send_due(*, now=None, batch_size: int = 1000) -> dict:
    """Queue this week's digest for every candidate whose local send time has come.

    Safe to run twice and to stop midway: each batch is one transaction, a digest row per
    (user, week) is unique in the database, rows are filled in only by the run that inserted
    them, and the outbox key is per (user, week).
    """
    now = now or timezone.now()
    started = time.monotonic()
    counts = {"users": 0, "queued": 0, "skipped": 0, "taken_by_other_run": 0}
    counts.update(digests_sync_from_outbox())
    by_week = weeks.due_zones_by_week(selectors.digest_candidate_zones(now=now), now)
    if by_week:
        catalogue = Catalogue(selectors.catalogue_items(now=now), today=now.date())
        general = GeneralPicks(catalogue, clicks=selectors.opportunity_click_counts(now=now))
        priors = selectors.taste_priors(now=now)
        cards = DigestCards()
        run_id = uuid.uuid4().hex
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
                batch = _digest_batch(
                    week=week,
                    users=users,
                    catalogue=catalogue,
                    general=general,
                    priors=priors,
                    cards=cards,
                    run_id=run_id,
                    now=now,
                )
                for key, value in batch.items():
                    counts[key] += value
    logger.info(
        "send_weekly_digests: users=%d queued=%d skipped=%d taken_by_other_run=%d in %.2fs",
        counts["users"],
        counts["queued"],
        counts["skipped"],
        counts["taken_by_other_run"],
        time.monotonic() - started,
    )
    return counts


def _digest_batch(
    *,
    week,
    users: list[dict],
    catalogue: Catalogue,
    general: GeneralPicks,
    priors,
    cards: DigestCards,
    run_id: str,
    now,
) -> dict:
    limit = settings.DIGEST_OPPORTUNITY_COUNT
    with transaction.atomic():
        profiles = selectors.digest_profiles(users, priors=priors, now=now)
        suppressed = suppressed_addresses([user["email"] for user in users], Category.DIGEST)
        rows, picks_by_user = [], {}
        for user in users:
            profile = profiles[user["id"]]
            # Nothing fits the profile (or it is empty): the best general picks, said so.
            picks = catalogue.recommend(profile, limit=limit) or general.recommend(
                profile, limit=limit
            )
            row = DigestEmail(user_id=user["id"], week_start=week, run_id=run_id, created_at=now)
            if user["email"].lower() in suppressed:
                row.status, row.skip_reason = DigestEmail.Status.SKIPPED, "address suppressed"
            elif not picks:
                row.status = DigestEmail.Status.SKIPPED
                row.skip_reason = "no open opportunity to send"
            else:
                row.status, row.opportunity_count = DigestEmail.Status.QUEUED, len(picks)
                picks_by_user[user["id"]] = picks
            rows.append(row)
        # Another run may have taken some of these users since we read them: the unique
        # (user, week) constraint keeps its rows, and we fill in only the ones we inserted.
        ours = objs_insert_ignoring_conflicts(rows, key="user")
        if ours is None:  # the database could not say which rows it inserted
            ours = dict(
                DigestEmail.objects.filter(
                    run_id=run_id, week_start=week, user_id__in=[user["id"] for user in users]
                ).values_list("user_id", "id")
            )
        queued = [user for user in users if user["id"] in ours and user["id"] in picks_by_user]
        digest_ids = {user["id"]: ours[user["id"]] for user in queued}
        _digest_store_items(digest_ids, picks_by_user)
        _digest_enqueue(
            week=week, users=queued, digest_ids=digest_ids, picks=picks_by_user, cards=cards
        )
    skipped = sum(
        1 for row in rows if row.status == DigestEmail.Status.SKIPPED and row.user_id in ours
    )
    return {
        "users": len(users),
        "queued": len(queued),
        "skipped": skipped,
        "taken_by_other_run": len(users) - len(ours),
    }


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


def _digest_enqueue(
    *, week, users: list[dict], digest_ids: dict, picks: dict, cards=None, test=False
):
    cards = cards or DigestCards()
    cards.load({pick.item_id for user in users for pick in picks[user["id"]]})
    frames = DigestFrames()
    drafts = []
    for user in users:
        digest_id = digest_ids[user["id"]]
        context, headers = digest_email_context(
            user=user,
            digest_id=digest_id,
            opportunity_ids=[pick.item_id for pick in picks[user["id"]]],
            cards=cards,
            general=are_general(picks[user["id"]]),
            discovery_ids={pick.item_id for pick in picks[user["id"]] if pick.discovery},
        )
        if test:
            key = f"digest-test:{digest_id}"
        else:
            key = _digest_outbox_key(user_id=user["id"], week=week)
        drafts.append(
            OutboxDraft(
                recipient=user["email"],
                template=DIGEST_TEMPLATE,
                context=context,
                category=Category.DIGEST,
                idempotency_key=key,
                headers=headers,
                user_id=user["id"],
                rendered=frames.render(context),
            )
        )
    outbox_ids = outbox_enqueue_many(drafts)
    if test:
        (draft,) = drafts
        DigestEmail.objects.filter(pk=digest_ids[draft.user_id]).update(
            outbox_id=outbox_ids[draft.idempotency_key]
        )
        return
    # One set-based UPDATE per batch, each digest finding its outbox row by the key it was
    # queued under, built in SQL: bulk_update's CASE over a thousand ids took longer to build
    # in Python than the database took to run it.
    prefix, suffix = _digest_outbox_key_parts(week)
    key = Concat(Value(prefix), Cast(OuterRef("user_id"), output_field=CharField()), Value(suffix))
    DigestEmail.objects.filter(pk__in=[digest_ids[user["id"]] for user in users]).update(
        outbox_id=Subquery(EmailOutbox.objects.filter(idempotency_key=key).values("pk"))
    )


def _digest_outbox_key_parts(week) -> tuple[str, str]:
    # One outbox row per user and week, whichever run queues it: "digest:<user id>:<week>".
    return "digest:", f":{week.isoformat()}"


def _digest_outbox_key(*, user_id: int, week) -> str:
    prefix, suffix = _digest_outbox_key_parts(week)
    return f"{prefix}{user_id}{suffix}"


@functools.lru_cache(maxsize=32)
def _link_template(name: str, site_url: str) -> str:
    # reverse() once per URL name and run: the token is the only part that varies.
    return site_url + reverse(name, args=["TOKEN"])


@functools.lru_cache(maxsize=4)
def _view_all_url(site_url: str) -> str:
    return site_url + reverse("digests:opportunities")


def _link(name: str, token: str) -> str:
    return _link_template(name, settings.SITE_URL).replace("TOKEN", token)


@functools.lru_cache(maxsize=8)
def _feedback_link_template(signal: str, site_url: str) -> str:
    return site_url + reverse("digests:feedback", args=[signal, "TOKEN"])


def _feedback_link(signal: str, token: str) -> str:
    return _feedback_link_template(signal, settings.SITE_URL).replace("TOKEN", token)


def digest_email_context(
    *,
    user: dict,
    digest_id: int | None,
    opportunity_ids: list[int],
    cards: DigestCards,
    general: bool = False,
    discovery_ids=frozenset(),
) -> tuple[dict, dict]:
    """The WEEKLY_DIGEST template context and the email's headers for one user.

    With digest_id None (a preview) the links are not tracked. `cards` must hold the cards of
    `opportunity_ids` (DigestCards.load). `general`: the items are general picks (cold
    start), and the email says so and invites the reader to complete their profile.
    `discovery_ids`: items labelled "you might also like" (a medium or kind not in the profile).
    """
    unsubscribe_url = _link("digests:unsubscribe", tokens.unsubscribe_token(user["id"]))
    items = []
    for opportunity_id in opportunity_ids:
        card = cards[opportunity_id]
        if digest_id is None:
            click_url = card.url
            more_url = _feedback_link("more", tokens.REDACTED)
            less_url = _feedback_link("less", tokens.REDACTED)
        else:
            click_url = _link("digests:click", tokens.click_token(digest_id, opportunity_id))
            more_url = _feedback_link(
                "more", tokens.feedback_token(digest_id, opportunity_id, "more")
            )
            less_url = _feedback_link(
                "less", tokens.feedback_token(digest_id, opportunity_id, "less")
            )
        items.append(
            card.fill(
                click_url=click_url,
                deadline_label=cards.deadline_label(card, user["timezone"]),
                more_url=more_url,
                less_url=less_url,
                discovery=opportunity_id in discovery_ids,
            )
        )
    context = {
        "greeting_name": user["display_name"] or user["username"],
        "mediums": ", ".join(MEDIUMS.get(m, m) for m in user["mediums"] or ()),
        "items": items,
        "general_picks": general,
        "profile_url": settings.DIGEST_PROFILE_URL,
        "view_all_url": _view_all_url(settings.SITE_URL),
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url(user["id"]),
        "footer_address": settings.EMAIL_FOOTER_ADDRESS,
        "open_pixel_url": (
            _link("digests:open", tokens.open_token(digest_id)) if digest_id is not None else ""
        ),
    }
    # RFC 8058 one-click unsubscribe: mail clients POST to this URL with no cookie.
    return context, marketing_headers(unsubscribe_url)


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
    if not picks:
        raise DigestsError(
            f"no open opportunity {user.username} may apply to (eligibility, already sent): "
            "nothing to send"
        )
    week = weeks.week_of(now.astimezone(user.zone).date())
    with transaction.atomic():
        if requested_by is not None:
            # Two clicks at once from one staff user: the second waits here, then counts.
            get_user_model().objects.select_for_update().filter(pk=requested_by.pk).exists()
            _test_digest_limit_check(requested_by=requested_by, now=now)
        digest = DigestEmail.objects.create(
            user=user,
            week_start=week,
            status=DigestEmail.Status.TEST,
            opportunity_count=len(picks),
            created_at=now,
            requested_by=requested_by,
        )
        _digest_store_items({user.id: digest.id}, {user.id: picks})
        _digest_enqueue(
            week=week,
            users=[profile_fields],
            digest_ids={user.id: digest.id},
            picks={user.id: picks},
            test=True,
        )
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
    context, _ = digest_email_context(
        user=profile_fields,
        digest_id=None,
        opportunity_ids=opportunity_ids,
        cards=cards,
        general=are_general(picks),
    )
    rendered = email_render(template=DIGEST_TEMPLATE, context=context)
    return tuple(tokens.tokens_redact(part) for part in rendered)


def digests_sync_from_outbox() -> dict:
    """Carry what the outbox learned (sent, gave up, ESP opens and clicks) onto digests.

    Set-based: a handful of UPDATEs, whatever the number of digests.
    """
    outbox = EmailOutbox.objects.filter(pk=OuterRef("outbox_id"))
    sent = DigestEmail.objects.filter(
        status=DigestEmail.Status.QUEUED, outbox__status=EmailOutbox.Status.SENT
    ).update(status=DigestEmail.Status.SENT, sent_at=Subquery(outbox.values("sent_at")[:1]))
    DigestEmail.objects.filter(
        status=DigestEmail.Status.TEST,
        sent_at__isnull=True,
        outbox__status=EmailOutbox.Status.SENT,
    ).update(sent_at=Subquery(outbox.values("sent_at")[:1]))
    failed = DigestEmail.objects.filter(
        status=DigestEmail.Status.QUEUED,
        outbox__status__in=[
            EmailOutbox.Status.DEAD,
            EmailOutbox.Status.CANCELLED,
            EmailOutbox.Status.SUPPRESSED,
        ],
    ).update(status=DigestEmail.Status.FAILED)
    DigestEmail.objects.filter(opened_at__isnull=True, outbox__opened_at__isnull=False).update(
        opened_at=Subquery(outbox.values("opened_at")[:1])
    )
    DigestEmail.objects.filter(clicked_at__isnull=True, outbox__clicked_at__isnull=False).update(
        clicked_at=Subquery(outbox.values("clicked_at")[:1])
    )
    return {"marked_sent": sent, "marked_failed": failed}
