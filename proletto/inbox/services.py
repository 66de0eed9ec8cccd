"""Store, claim, apply, replay and prune inbound webhook events (proletto/inbox)."""

import datetime as dt
import hashlib
import logging
import time
import traceback

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from proletto.inbox.registry import InboxRejected, inbox_handlers
from proletto.models import InboundEvent

logger = logging.getLogger("proletto.inbox")

State = InboundEvent.State


def inbox_store(
    *,
    source: str,
    body: bytes,
    headers: dict,
    signature: str,
    kind: str = "",
    external_id: str = "",
) -> tuple[InboundEvent, bool]:
    """Keep one authenticated request, in one short transaction; (event, stored).

    A redelivery (the same event id, or for sources without one the same body) finds the
    row already there: stored is False and nothing is written.
    """
    now = timezone.now()
    dedupe_key = external_id or "sha256:" + hashlib.sha256(body).hexdigest()
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(
                source=source,
                kind=kind[:100],
                external_id=external_id[:255],
                dedupe_key=dedupe_key[:255],
                body=body,
                headers=headers,
                received_at=now,
                signature=signature[:255],
                state=State.PENDING,
                next_attempt_at=now,
                updated_at=now,
            )
    except IntegrityError:
        existing = InboundEvent.objects.filter(source=source, dedupe_key=dedupe_key[:255]).first()
        if existing is None:
            raise
        return existing, False
    return event, True


def retry_delay(attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failure: exponential from INBOX_RETRY_BASE_SECONDS."""
    seconds = settings.INBOX_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return dt.timedelta(seconds=min(settings.INBOX_RETRY_CAP_SECONDS, seconds))


def inbox_due(*, now: dt.datetime):
    return InboundEvent.objects.filter(state__in=InboundEvent.DUE_STATES, next_attempt_at__lte=now)


def inbox_claim(*, now: dt.datetime, batch_size: int) -> list[InboundEvent]:
    """Take up to batch_size due events, oldest first, so no other process applies them.

    SKIP LOCKED lets several processes take different rows on PostgreSQL; the conditional
    UPDATE (state and next_attempt_at unchanged) is the claim on SQLite, and `attempts`,
    raised by the claim, fences the apply against a process whose claim expired.
    """
    with transaction.atomic():
        ids = list(
            inbox_due(now=now)
            .order_by("id")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return []
        inbox_due(now=now).filter(id__in=ids).update(
            state=State.PROCESSING,
            attempts=F("attempts") + 1,
            next_attempt_at=now + dt.timedelta(seconds=settings.INBOX_CLAIM_SECONDS),
            updated_at=now,
        )
        return list(
            InboundEvent.objects.filter(id__in=ids, state=State.PROCESSING, updated_at=now)
            .defer("body", "headers")
            .order_by("id")
        )


def inbox_apply(*, event: InboundEvent, handlers: dict | None = None) -> str:
    """Apply one claimed event through its source's handler; return its new state.

    The handler runs outside any transaction of ours: it opens its own around its effects and
    its dedupe record (StripeEvent, EmailEvent), and may call the outside world first (Stripe's
    API) without holding a lock. So an event applied twice (a replay, a claim taken over after
    a crash between the effects and the `applied` mark) takes effect once.
    """
    handlers = inbox_handlers() if handlers is None else handlers
    claimed = InboundEvent.objects.filter(
        pk=event.pk, state=State.PROCESSING, attempts=event.attempts
    )
    handler = handlers.get(event.source)
    try:
        if handler is None:
            raise LookupError(f"no inbox handler is registered for source {event.source!r}")
        if not claimed.exists():
            return "lost"  # our claim expired and another process took the event over
        outcome = handler(event)
    except InboxRejected as exc:
        logger.warning("inbox event %s (%s) rejected: %s", event.pk, event.source, exc)
        claimed.update(
            state=State.REJECTED,
            last_error=f"rejected: {exc}"[:10000],
            next_attempt_at=None,
            updated_at=timezone.now(),
        )
        return State.REJECTED
    except Exception as exc:
        held = event.attempts >= settings.INBOX_MAX_ATTEMPTS
        logger.exception(
            "inbox event %s (%s) failed on attempt %s%s: %s",
            event.pk,
            event.source,
            event.attempts,
            ", held for a replay" if held else "",
            exc,
        )
        now = timezone.now()
        claimed.update(
            state=State.HELD if held else State.FAILED,
            last_error="".join(traceback.format_exception(exc))[-10000:],
            next_attempt_at=None if held else now + retry_delay(event.attempts),
            updated_at=now,
        )
        return State.HELD if held else State.FAILED
    now = timezone.now()
    claimed.update(
        state=State.APPLIED,
        outcome=(outcome or "")[:255],
        last_error="",
        applied_at=now,
        next_attempt_at=None,
        updated_at=now,
    )
    return State.APPLIED


def inbox_process(*, max_seconds: float | None = None, batch_size: int | None = None) -> dict:
    """Apply due events in batches, oldest first, until none is due (or max_seconds passed)."""
    started = time.monotonic()
    batch_size = batch_size or settings.INBOX_BATCH_SIZE
    handlers = inbox_handlers()
    counts = {State.APPLIED: 0, State.FAILED: 0, State.HELD: 0, State.REJECTED: 0, "lost": 0}
    while max_seconds is None or time.monotonic() - started < max_seconds:
        batch = inbox_claim(now=timezone.now(), batch_size=batch_size)
        if not batch:
            break
        for event in batch:
            counts[inbox_apply(event=event, handlers=handlers)] += 1
    return {str(state): count for state, count in counts.items()}


def inbox_replay(*, ids) -> int:
    """Queue the given events to be applied again at once (the apps' own dedupe keeps an
    event already applied from taking effect twice); returns how many were queued."""
    now = timezone.now()
    return InboundEvent.objects.filter(
        id__in=list(ids), state__in=InboundEvent.REPLAYABLE_STATES
    ).update(state=State.PENDING, attempts=0, next_attempt_at=now, updated_at=now)


def inbox_replay_failed() -> int:
    """Queue every failed and held event to be applied again at once."""
    now = timezone.now()
    return InboundEvent.objects.filter(state__in=[State.FAILED, State.HELD]).update(
        state=State.PENDING, attempts=0, next_attempt_at=now, updated_at=now
    )


def inbox_prune(*, now: dt.datetime | None = None, batch_size: int = 1000) -> int:
    """Delete applied and rejected events older than INBOX_RETENTION_DAYS, a batch at a time
    (failed and held ones wait for a replay whatever their age)."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.INBOX_RETENTION_DAYS)
    old = InboundEvent.objects.filter(
        Q(state=State.APPLIED) | Q(state=State.REJECTED), received_at__lt=cutoff
    )
    deleted = 0
    while True:
        ids = list(old.order_by("id").values_list("id", flat=True)[:batch_size])
        if not ids:
            return deleted
        deleted += InboundEvent.objects.filter(id__in=ids).delete()[0]
