"""The weekly digest's batch path as it was before issue #23, kept as bench/digest.py's
baseline (measured in the same run as today's): each batch picked, rendered and written in
turn, in one connection; digest and outbox rows as model instances inserted through a
temporary staging table; each digest linked to its email by one UPDATE per batch. It picks
with the recommender of today (issue 22's priors), so only the write path differs."""

import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import CharField, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Concat

from digests import selectors, weeks
from digests.general_picks import GeneralPicks, are_general
from digests.models import DigestEmail, DigestItem
from digests.recommender import Catalogue
from digests.rendering import DIGEST_TEMPLATE, DigestCards, DigestFrames
from digests.services.digest_email import digest_email_context
from outreach.models import Category, EmailOutbox
from outreach.selectors import suppressed_addresses
from outreach.services.outbox import OutboxDraft, outbox_enqueue_many
from proletto.bulk import objs_insert_ignoring_conflicts, rows_insert


def digests_send_due_before_23(*, now, batch_size: int = 1000) -> dict:
    counts = {"users": 0, "queued": 0, "skipped": 0, "taken_by_other_run": 0}
    by_week = weeks.due_zones_by_week(selectors.digest_candidate_zones(now=now), now)
    catalogue = Catalogue(selectors.catalogue_items(now=now), today=now.date())
    general = GeneralPicks(catalogue, clicks=selectors.opportunity_click_counts(now=now))
    priors = selectors.taste_priors(now=now)
    cards, run_id = DigestCards(), uuid.uuid4().hex
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
            batch = _batch(
                week=week, users=users, catalogue=catalogue, general=general, cards=cards,
                run_id=run_id, now=now, priors=priors,
            )  # fmt: skip
            for key, value in batch.items():
                counts[key] += value
    return counts


def _batch(*, week, users, catalogue, general, cards, run_id, now, priors) -> dict:
    limit = settings.DIGEST_OPPORTUNITY_COUNT
    with transaction.atomic():
        profiles = selectors.digest_profiles(users, priors=priors, now=now)
        suppressed = suppressed_addresses([user["email"] for user in users], Category.DIGEST)
        rows, picks_by_user = [], {}
        for user in users:
            profile = profiles[user["id"]]
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
        ours = objs_insert_ignoring_conflicts(rows, key="user")
        queued = [user for user in users if user["id"] in ours and user["id"] in picks_by_user]
        digest_ids = {user["id"]: ours[user["id"]] for user in queued}
        rows_insert(
            DigestItem,
            ["digest_id", "opportunity_id", "position", "score", "reasons"],
            (
                (digest_id, pick.item_id, position, pick.score, list(pick.reasons))
                for user_id, digest_id in digest_ids.items()
                for position, pick in enumerate(picks_by_user[user_id], start=1)
            ),
        )
        _enqueue(week=week, users=queued, digest_ids=digest_ids, picks=picks_by_user, cards=cards)
    return {"users": len(users), "queued": len(queued)}


def _enqueue(*, week, users, digest_ids, picks, cards) -> None:
    cards.load({pick.item_id for user in users for pick in picks[user["id"]]})
    frames = DigestFrames()
    drafts = []
    for user in users:
        context, headers = digest_email_context(
            user=user,
            digest_id=digest_ids[user["id"]],
            opportunity_ids=[pick.item_id for pick in picks[user["id"]]],
            cards=cards,
            general=are_general(picks[user["id"]]),
        )
        drafts.append(
            OutboxDraft(
                recipient=user["email"],
                template=DIGEST_TEMPLATE,
                context=context,
                category=Category.DIGEST,
                idempotency_key=f"digest:{user['id']}:{week.isoformat()}",
                headers=headers,
                user_id=user["id"],
                rendered=frames.render(context),
            )
        )
    outbox_enqueue_many(drafts)
    key = Concat(
        Value("digest:"),
        Cast(OuterRef("user_id"), output_field=CharField()),
        Value(f":{week.isoformat()}"),
    )
    DigestEmail.objects.filter(pk__in=[digest_ids[user["id"]] for user in users]).update(
        outbox_id=Subquery(EmailOutbox.objects.filter(idempotency_key=key).values("pk"))
    )
