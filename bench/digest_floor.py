"""The digest's floor for bench/digest.py: the same rows written and the same emails rendered,
with nothing else.

floor_picks() reads back what a digest run chose (each reader's profile fields and picks);
floor_run() then, batch by batch as the digest does, takes the rows' ids from the
sequences, renders every email (signed links, filled frames: the digest's own rendering
code) and COPies the digest, item and outbox rows (proletto.bulk.rows_insert, binary where the
columns allow it, as the digest does), one commit a batch. No scoring, no consent or
suppression reads, no validation, no ORM: what any digest must at least do.
"""

import json
import time
from collections import defaultdict

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import JSONField

from bench.digest_history import HISTORY_RUN
from digests import selectors
from digests.models import DigestEmail, DigestItem
from digests.recommender import Pick
from digests.rendering import DIGEST_TEMPLATE, DigestCards, DigestFrames
from digests.services.digest_batch import DIGEST_FIELDS, ITEM_FIELDS
from digests.services.digest_email import digest_email_for_picks
from outreach.models import Category, EmailOutbox
from proletto.bulk import ids_reserve, rows_insert

BATCH = 1000


def floor_picks() -> list[tuple]:
    """(week, user's PROFILE_FIELDS dict, picks) of every digest the run queued (not the
    bench's history: bench/digest_history.py), by user id."""
    picks = defaultdict(list)
    items = (
        DigestItem.objects.exclude(digest__run_id=HISTORY_RUN)
        .order_by("digest__user_id", "position")
        .values_list("digest__user_id", "opportunity_id", "score", "reasons")
    )
    for user_id, opportunity_id, score, reasons in items.iterator(chunk_size=5000):
        picks[user_id].append(Pick(item_id=opportunity_id, score=score, reasons=tuple(reasons)))
    weeks = dict(
        DigestEmail.objects.filter(status=DigestEmail.Status.QUEUED)
        .exclude(run_id=HISTORY_RUN)
        .values_list("user_id", "week_start")
    )
    users = (
        get_user_model()
        .objects.filter(pk__in=list(weeks))
        .order_by("pk")
        .values(*selectors.PROFILE_FIELDS)
    )
    return [(weeks[user["id"]], user, picks[user["id"]]) for user in users]


def floor_run(picks: list[tuple], *, now) -> dict:
    cards, frames = DigestCards(), DigestFrames()
    cards.load({pick.item_id for _, _, user_picks in picks for pick in user_picks})
    commit_seconds = 0.0
    for start in range(0, len(picks), BATCH):
        batch = picks[start : start + BATCH]
        digest_ids = ids_reserve(DigestEmail, len(batch))
        outbox_ids = ids_reserve(EmailOutbox, len(batch))
        digests, items, emails = [], [], []
        outbox_blank = _blank(EmailOutbox, now)
        for (week, user, user_picks), digest_id, outbox_id in zip(
            batch, digest_ids, outbox_ids, strict=True
        ):
            context, headers = digest_email_for_picks(
                user=user, digest_id=digest_id, picks=user_picks, cards=cards
            )
            subject, body_text, body_html = frames.render(context)
            digests.append(
                (digest_id, user["id"], week, "queued", len(user_picks), "", outbox_id, "", now)
            )
            items += [
                (digest_id, pick.item_id, position, pick.score, json.dumps(list(pick.reasons)))
                for position, pick in enumerate(user_picks, start=1)
            ]
            emails.append(
                outbox_blank
                | {
                    "id": outbox_id,
                    "recipient": user["email"],
                    "user_id": user["id"],
                    "subject": subject,
                    "body_text": body_text,
                    "body_html": body_html,
                    "headers": json.dumps(headers),
                    "template": DIGEST_TEMPLATE,
                    "category": Category.DIGEST,
                    "idempotency_key": f"digest:{user['id']}:{week.isoformat()}",
                    "next_attempt_at": now,
                }
            )
        # proletto.bulk's COPY, as the digest writes: binary where the columns allow it.
        with transaction.atomic():
            rows_insert(DigestEmail, DIGEST_FIELDS, digests)
            rows_insert(DigestItem, ITEM_FIELDS, items, json_text=True)
            rows_insert(
                EmailOutbox,
                list(outbox_blank),
                [list(row.values()) for row in emails],
                json_text=True,
            )
            copied = time.perf_counter()
        commit_seconds += time.perf_counter() - copied
    return {"commit_seconds": commit_seconds}


def _blank(model, now) -> dict:
    # Every column at its default, so the outbox rows are complete whatever fields it gains.
    blank = {}
    for field in model._meta.concrete_fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            blank[field.attname] = now
        elif isinstance(field, JSONField):
            blank[field.attname] = json.dumps(field.get_default())
        else:
            blank[field.attname] = field.get_default()
    return blank
