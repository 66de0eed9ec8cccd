"""Claiming due outbox rows for one relay (one statement per group of rows), and taking back
the rows of a relay that died (outbox_reclaim_stuck).

Raw SQL because this runs for every few emails a relay sends: through the ORM (a
select_for_update of model instances, then an UPDATE, in a transaction) the same claim cost
~4x the CPU and four round trips to the database instead of one. Due means what
outreach.selectors.outbox_due says (status queued or retry, next_attempt_at passed), taken in
the same order.
"""

import json
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection as database
from django.db.models import F

from outreach.models import EmailOutbox

logger = logging.getLogger(__name__)

Status = EmailOutbox.Status
# What a sender needs of a row, what the consent check reads, and (last) which attempt its
# send will be.
CLAIMED_COLUMNS = (
    "id",
    "recipient",
    "subject",
    "body_text",
    "body_html",
    "headers",
    "category",
    "user_id",
    "attempts",
)


def outbox_claim_due(*, claim_token: str, limit: int, now: datetime) -> list[EmailOutbox]:
    """Claim up to `limit` due rows for `claim_token`; returns them (sending).

    A claim counts no attempt: a send's attempt is counted when its result is recorded
    (outbox_record_outcomes), so rows claimed ahead of the senders that a stopping relay gives
    back have used none. A row whose relay died holding it counts one when it is reclaimed
    (outbox_reclaim_stuck). Each returned row's `attempts` is the attempt its send will be.

    On PostgreSQL the rows are locked with SKIP LOCKED, so relays take different rows at
    once; SQLite serialises writers. On both, the UPDATE re-checks that each row is still due
    and returns only the rows it took.
    """
    table = database.ops.quote_name(EmailOutbox._meta.db_table)
    stamp = database.ops.adapt_datetimefield_value(now)
    due = (Status.QUEUED, Status.RETRY)
    lock = " FOR UPDATE SKIP LOCKED" if database.features.has_select_for_update_skip_locked else ""
    with database.cursor() as cursor:
        # The due rows are picked in a CTE, evaluated once: as a plain IN (subquery) with
        # LIMIT and SKIP LOCKED, PostgreSQL may run the subquery again and claim past limit.
        cursor.execute(
            f"WITH due AS (SELECT id FROM {table}"
            f"  WHERE status IN (%s, %s) AND next_attempt_at <= %s"
            f"  ORDER BY priority DESC, next_attempt_at, id LIMIT %s{lock})"
            f" UPDATE {table} SET status = %s, claim_token = %s, claimed_at = %s,"
            f" updated_at = %s"
            f" WHERE id IN (SELECT id FROM due) AND status IN (%s, %s) AND next_attempt_at <= %s"
            f" RETURNING {', '.join(CLAIMED_COLUMNS[:-1])}, attempts + 1",
            [*due, stamp, limit, Status.SENDING, claim_token, stamp, stamp, *due, stamp],
        )
        rows = [_row(dict(zip(CLAIMED_COLUMNS, values, strict=True))) for values in cursor]
    return sorted(rows, key=lambda row: row.id)


def _row(values: dict) -> EmailOutbox:
    headers = values.pop("headers")
    return EmailOutbox(
        **values,
        # JSON comes back as text from a raw cursor (as JSONField.from_db_value reads it).
        headers=json.loads(headers) if isinstance(headers, str) else headers,
        status=Status.SENDING,
    )


def outbox_reclaim_stuck(*, now: datetime) -> dict:
    """Rows left in `sending` by a relay that died go back to the queue (or die if spent).

    Each counts one attempt: which of them were sent is not known, and an email that makes
    every relay sending it crash (out of memory on a huge body, say) must end dead after
    EMAIL_MAX_ATTEMPTS crashes instead of taking relays down for ever. The price: rows the
    dead relay had claimed ahead of its senders pay an attempt they did not use."""
    cutoff = now - timedelta(seconds=settings.EMAIL_CLAIM_TIMEOUT_SECONDS)
    stuck = EmailOutbox.objects.filter(status=Status.SENDING, claimed_at__lt=cutoff)
    reason = "the relay sending it stopped before recording a result"
    spent = settings.EMAIL_MAX_ATTEMPTS - 1
    dead = stuck.filter(attempts__gte=spent).update(
        status=Status.DEAD,
        attempts=F("attempts") + 1,
        claim_token="",
        next_attempt_at=None,
        last_error=f"gave up after retries: {reason}",
        updated_at=now,
    )
    reclaimed = stuck.filter(attempts__lt=spent).update(
        status=Status.RETRY,
        attempts=F("attempts") + 1,
        claim_token="",
        next_attempt_at=now,
        last_error=reason,
        updated_at=now,
    )
    if dead or reclaimed:
        logger.warning("outbox: reclaimed %s stuck rows, %s of them dead", reclaimed + dead, dead)
    return {"reclaimed": reclaimed, "dead": dead}


def outbox_settle_refused(refusals: dict[int, str], *, claim_token: str, now) -> int:
    """Claimed rows that must not be sent (row id -> why: suppressed, unsubscribed, already
    Pro; see outreach.selectors.outbox_refusals) are settled at once with that reason, if
    this claim still holds them. One statement per distinct reason."""
    by_reason: dict[str, list[int]] = {}
    for row_id, reason in refusals.items():
        by_reason.setdefault(reason, []).append(row_id)
    settled = 0
    for reason, ids in by_reason.items():
        settled += EmailOutbox.objects.filter(
            id__in=ids, claim_token=claim_token, status=Status.SENDING
        ).update(
            status=Status.SUPPRESSED,
            claim_token="",
            next_attempt_at=None,
            last_error=reason,
            updated_at=now,
        )
    return settled
