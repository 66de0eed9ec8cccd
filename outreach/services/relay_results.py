"""Recording a group of send results: one UPDATE for the whole group, on rows still claimed.

Each result becomes one row of a VALUES list joined to the outbox (`UPDATE ... FROM`), so a
group costs one statement and no per-row ORM work (no model instances, no CASE per row): this
runs for every email the relay sends. Raw SQL because Django's ORM has no UPDATE ... FROM;
PostgreSQL and SQLite (3.33+) both run it.
"""

import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection as database

from outreach.models import EmailOutbox
from outreach.services.sending import SendResult

Status = EmailOutbox.Status
AMBIGUOUS = "ambiguous"


def backoff_delay(attempts: int, *, rng: random.Random | None = None) -> timedelta:
    """How long to wait after the `attempts`-th failed send: exponential, capped, jittered.

    The jitter keeps the wait between half and all of the exponential value, so a burst of
    failures (an ESP outage) does not come back as a burst of retries.
    """
    exponential = settings.EMAIL_RETRY_BASE_SECONDS * settings.EMAIL_RETRY_FACTOR ** max(
        attempts - 1, 0
    )
    capped = min(settings.EMAIL_RETRY_CAP_SECONDS, exponential)
    return timedelta(seconds=capped * (rng or random).uniform(0.5, 1.0))


@dataclass(frozen=True)
class Outcome:
    """What one row becomes: its new status and columns, and the count it adds to."""

    id: int
    status: str
    count_as: str
    next_attempt_at: datetime | None = None
    last_error: str = ""
    esp_message_id: str = ""
    # A row given back unsent (the relay stopped first): due as before, no attempt counted.
    given_back: bool = False


def outcome_of(result: SendResult, *, attempts: int, now: datetime) -> Outcome:
    """The row's next state after a send attempt (its `attempts`-th)."""
    if result.ok:
        return Outcome(result.id, Status.SENT, "sent", esp_message_id=result.message_id)
    if result.permanent or attempts >= settings.EMAIL_MAX_ATTEMPTS:
        reason = "rejected" if result.permanent else "gave up after retries"
        if result.ambiguous:
            reason += f" ({AMBIGUOUS})"
        return Outcome(result.id, Status.DEAD, "dead", last_error=f"{reason}: {result.error}")
    delay = backoff_delay(attempts)
    if not result.ambiguous:
        return Outcome(result.id, Status.RETRY, "failed", now + delay, result.error)
    # Give the ESP's events time to say whether it has the email.
    delay = max(delay, timedelta(seconds=settings.EMAIL_AMBIGUOUS_SETTLE_SECONDS))
    error = f"{AMBIGUOUS}: {result.error}; resent only if no ESP event for it"
    return Outcome(result.id, Status.RETRY, AMBIGUOUS, now + delay, error)


def outcome_unsent(row_id: int, *, attempts: int) -> Outcome:
    """A claimed row the relay never sent (`attempts`: the attempt its send would have been):
    due again when it was, no attempt counted (back in `retry` if an earlier attempt failed,
    else `queued`)."""
    status = Status.RETRY if attempts > 1 else Status.QUEUED
    return Outcome(row_id, status, "given_back", given_back=True)


def outbox_record_outcomes(*, claim_token: str, outcomes: list[Outcome], now: datetime) -> Counter:
    """Write every outcome in one statement, only on rows this claim still holds (a row taken
    over, or settled by an ESP event, is not ours to change); a send counts its attempt here,
    a row given back unsent counts none. Counts by kind; the rows no longer ours count as
    `lost_claim`."""
    counts: Counter = Counter()
    if not outcomes:
        return counts
    table = database.ops.quote_name(EmailOutbox._meta.db_table)
    # PostgreSQL types a VALUES column from its first row; NULLs alone would be text.
    stamp = "::timestamptz" if database.vendor == "postgresql" else ""
    # Outbox ids are bigint (DEFAULT_AUTO_FIELD): an integer cast would refuse ids past 2^31.
    big, number = ("::bigint", "::integer") if database.vendor == "postgresql" else ("", "")
    first = f"(%s{big}, %s, %s{stamp}, %s, %s, %s{number})"
    values = ", ".join([first] + ["(%s, %s, %s, %s, %s, %s)"] * (len(outcomes) - 1))
    stamped = database.ops.adapt_datetimefield_value
    params: list = []
    for outcome in outcomes:
        params += [
            outcome.id,
            outcome.status,
            stamped(outcome.next_attempt_at),
            outcome.last_error[:2000],
            outcome.esp_message_id,
            int(outcome.given_back),
        ]
    sent = Status.SENT
    sql = f"""
        WITH outcome (id, status, next_attempt_at, last_error, esp_message_id, given_back)
            AS (VALUES {values})
        UPDATE {table}
        SET status = outcome.status,
            claim_token = '',
            next_attempt_at = CASE
                WHEN outcome.given_back = 1 THEN {table}.next_attempt_at
                ELSE outcome.next_attempt_at
            END,
            last_error = CASE
                WHEN outcome.given_back = 1 THEN {table}.last_error ELSE outcome.last_error
            END,
            attempts = attempts + 1 - outcome.given_back,
            sent_at = CASE WHEN outcome.status = '{sent}' THEN %s ELSE sent_at END,
            esp_name = CASE WHEN outcome.status = '{sent}' THEN %s ELSE esp_name END,
            esp_message_id = CASE
                WHEN outcome.status = '{sent}' THEN outcome.esp_message_id
                ELSE {table}.esp_message_id
            END,
            updated_at = %s
        FROM outcome
        WHERE {table}.id = outcome.id AND {table}.claim_token = %s AND {table}.status = %s
        RETURNING {table}.id
    """
    params += [stamped(now), settings.EMAIL_ESP, stamped(now), claim_token, Status.SENDING]
    with database.cursor() as cursor:
        cursor.execute(sql, params)
        recorded = {row[0] for row in cursor.fetchall()}
    for outcome in outcomes:
        counts[outcome.count_as if outcome.id in recorded else "lost_claim"] += 1
    return counts
