"""One batch of the weekly digest: picked and rendered into plain rows, then written.

digest_batch_build does the Python work (recommendations, emails, signed links) and only
reads; digest_batch_write writes the rows in one transaction. digests_send_due runs the
write of one batch while it builds the next (proletto/write_behind.py).

The emails' links carry the digest's id, so ids are taken before anything is written
(proletto.bulk.ids_reserve): the digest rows, their items and their outbox rows are then
plain values written with COPY, with no model instances and no UPDATE to link a digest to
its email afterwards. Only the digest row can meet a conflict (another run taking the same
user and week): it is inserted first, skipping conflicts, and a batch writes items and
emails only for the digests it inserted. While its digest row is uncommitted no other run
can insert that user's week, so the email's key (one per user and week) cannot be taken
either; one left from an earlier digest is found while building and linked instead.
"""

import functools
from dataclasses import dataclass, field
from datetime import date, datetime
from json.encoder import encode_basestring_ascii
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import F

from digests import selectors
from digests.general_picks import GeneralPicks
from digests.learning import TastePriors
from digests.models import DigestEmail, DigestItem
from digests.recommender import Catalogue
from digests.rendering import DIGEST_TEMPLATE, DigestCards, DigestFrames
from digests.services.digest_email import digest_email_for_picks
from outreach.models import Category, EmailOutbox
from outreach.selectors import SUPPRESSED, outbox_refusals
from outreach.services.outbox import OutboxDraft, outbox_rows
from proletto.bulk import ids_reserve, rows_insert, rows_insert_ignoring_conflicts
from proletto.lookups import AnyOf

DIGEST_FIELDS = (
    "id",
    "user_id",
    "week_start",
    "status",
    "opportunity_count",
    "skip_reason",
    "outbox_id",
    "run_id",
    "created_at",
)
ITEM_FIELDS = ("digest_id", "opportunity_id", "position", "score", "reasons")


@dataclass
class DigestRun:
    """What every batch of one run shares: the catalogue, the rendered cards and frames."""

    catalogue: Catalogue
    general: GeneralPicks
    priors: TastePriors
    run_id: str
    now: datetime
    cards: DigestCards = field(default_factory=DigestCards)
    frames: DigestFrames = field(default_factory=DigestFrames)


# Many picks share their reasons ("medium: painting", "deadline in 12 days"), but with learned
# reasons a run has about one new set of reasons per user: a cache kept for the whole run grew
# with its size (100,000 users: 60 MB of peak memory to 97 MB), so it keeps the recent ones.
@functools.lru_cache(maxsize=4096)
def _reasons_json(reasons: tuple[str, ...]) -> str:
    # json.dumps of the list, character for character, without its encoder set up per call.
    return "[" + ", ".join(map(encode_basestring_ascii, reasons)) + "]"


class _Recipient(NamedTuple):
    # What outbox_refusals reads of an email: its address, category and user.
    recipient: str
    category: str
    user_id: int


@dataclass
class DigestBatch:
    """One batch as rows: the digests, and per digest id its items and its new email."""

    users: int
    digests: list[tuple]
    items: dict[int, list[tuple]]
    emails: dict[int, list]
    email_fields: list[str]


def digest_outbox_key(*, user_id: int, week: date) -> str:
    # One outbox row per user and week, whichever run queues it.
    return f"digest:{user_id}:{week.isoformat()}"


def digest_batch_build(*, run: DigestRun, week: date, users: list[dict]) -> DigestBatch:
    """Pick, render and lay out the rows of `users`' digests (PROFILE_FIELDS dicts): reads,
    and takes ids, but writes nothing."""
    limit = settings.DIGEST_OPPORTUNITY_COUNT
    profiles = selectors.digest_profiles(users, priors=run.priors, now=run.now)
    # The outbox's consent rule, asked once: a suppressed address gets no email at all (the
    # digest says why); an unsubscribe since the list was read, a "suppressed" email.
    refusals = outbox_refusals(
        [_Recipient(user["email"], Category.DIGEST, user["id"]) for user in users]
    )
    plans = []  # (user, digest id, status, skip reason, picks, consent refusal)
    for user, digest_id, refusal in zip(
        users, ids_reserve(DigestEmail, len(users)), refusals, strict=True
    ):
        picks = []
        if refusal != SUPPRESSED:
            profile = profiles[user["id"]]
            # Nothing fits the profile (or it is empty): the best general picks, said so.
            picks = run.catalogue.recommend(profile, limit=limit) or run.general.recommend(
                profile, limit=limit
            )
        if refusal == SUPPRESSED:
            status, reason = DigestEmail.Status.SKIPPED, "address suppressed"
        elif not picks:
            status, reason = DigestEmail.Status.SKIPPED, "no open opportunity to send"
        else:
            status, reason = DigestEmail.Status.QUEUED, ""
        plans.append((user, digest_id, status, reason, picks, refusal))
    queued = [(user, digest_id, picks) for user, digest_id, _, _, picks, _ in plans if picks]
    left = _outbox_rows_left(week=week, queued=queued)
    new = [plan for plan in queued if plan[1] not in left]
    new_ids = ids_reserve(EmailOutbox, len(new))
    refusal_of = {plan[1]: plan[5] for plan in plans}
    email_fields, email_rows = outbox_rows(
        _drafts(run=run, week=week, queued=new),
        ids=new_ids,
        refusals=[refusal_of[digest_id] for _, digest_id, _ in new],
    )
    outbox_of = left | {digest_id: pk for (_, digest_id, _), pk in zip(new, new_ids, strict=True)}
    return DigestBatch(
        users=len(users),
        digests=[
            (digest_id, user["id"], week, status, len(picks), reason, outbox_of.get(digest_id))
            + (run.run_id, run.now)
            for user, digest_id, status, reason, picks, _ in plans
        ],
        items={
            digest_id: [
                (digest_id, pick.item_id, position, pick.score, _reasons_json(pick.reasons))
                for position, pick in enumerate(picks, start=1)
            ]
            for _, digest_id, picks in queued
        },
        emails={digest_id: row for (_, digest_id, _), row in zip(new, email_rows, strict=True)},
        email_fields=email_fields,
    )


def _outbox_rows_left(*, week: date, queued: list) -> dict[int, int]:
    """{digest id: id of the outbox row an earlier digest of that user and week left behind
    (that digest deleted since)}: the email is linked, not queued again."""
    digest_of = {
        digest_outbox_key(user_id=user["id"], week=week): digest_id for user, digest_id, _ in queued
    }
    keys, left = list(digest_of), {}
    for start in range(0, len(keys), 500):
        rows = EmailOutbox.objects.filter(AnyOf(F("idempotency_key"), keys[start : start + 500]))
        for key, pk in rows.values_list("idempotency_key", "id"):
            left[digest_of[key]] = pk
    return left


def _drafts(*, run: DigestRun, week: date, queued: list) -> list[OutboxDraft]:
    run.cards.load({pick.item_id for _, _, picks in queued for pick in picks})
    drafts = []
    for user, digest_id, picks in queued:
        context, headers = digest_email_for_picks(
            user=user, digest_id=digest_id, picks=picks, cards=run.cards
        )
        drafts.append(
            OutboxDraft(
                recipient=user["email"],
                template=DIGEST_TEMPLATE,
                context=context,
                category=Category.DIGEST,
                idempotency_key=digest_outbox_key(user_id=user["id"], week=week),
                headers=headers,
                user_id=user["id"],
                rendered=run.frames.render(context),
            )
        )
    return drafts


def digest_batch_write(batch: DigestBatch) -> dict:
    """Write a built batch in one transaction; its counts (users, queued, skipped, taken by
    another run)."""
    with transaction.atomic():
        ours = rows_insert_ignoring_conflicts(DigestEmail, DIGEST_FIELDS, batch.digests)
        rows_insert(
            DigestItem,
            ITEM_FIELDS,
            (item for digest_id, rows in batch.items.items() if digest_id in ours for item in rows),
            json_text=True,
        )
        rows_insert(
            EmailOutbox,
            batch.email_fields,
            (row for digest_id, row in batch.emails.items() if digest_id in ours),
            json_text=True,
        )
    queued = sum(1 for digest_id in batch.items if digest_id in ours)
    return {
        "users": batch.users,
        "queued": queued,
        "skipped": len(ours) - queued,
        "taken_by_other_run": batch.users - len(ours),
    }
