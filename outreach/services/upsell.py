"""Upsell sequences: start a session, queue each due step, stop converted or expired ones."""

import logging
from collections import Counter
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.selectors import pro_subscribers, user_is_pro
from outreach.consent import marketing_extras
from outreach.errors import OutboxError
from outreach.models import Category, EmailOutbox, UpsellSequence, UpsellSession
from outreach.services.counts import _counts
from outreach.services.outbox import outbox_enqueue
from proletto.preferences_link import pro_url

logger = logging.getLogger(__name__)


def upsell_session_start(*, user, sequence_code: str, now: datetime | None = None):
    """Start `sequence_code` for a free user; returns the (existing) active session or None."""
    now = now or timezone.now()
    sequence = UpsellSequence.objects.filter(code=sequence_code, is_active=True).first()
    if sequence is None:
        raise OutboxError(f"no active upsell sequence {sequence_code!r}")
    if user_is_pro(user):
        return None
    active = UpsellSession.objects.filter(
        user=user, sequence=sequence, status=UpsellSession.Status.ACTIVE
    ).first()
    if active is not None:
        return active
    try:
        with transaction.atomic():
            return UpsellSession.objects.create(
                user=user, sequence=sequence, started_at=now, deadline=now + sequence.duration
            )
    except IntegrityError:
        return UpsellSession.objects.get(
            user=user, sequence=sequence, status=UpsellSession.Status.ACTIVE
        )


def upsell_sessions_convert(*, now: datetime) -> dict:
    """End the sessions of users who became Pro, and cancel their steps not sent yet."""
    with transaction.atomic():
        user_ids = list(
            UpsellSession.objects.filter(
                status=UpsellSession.Status.ACTIVE, user__in=pro_subscribers().values("pk")
            ).values_list("user_id", flat=True)
        )
        if not user_ids:
            return {}
        converted = UpsellSession.objects.filter(
            status=UpsellSession.Status.ACTIVE, user_id__in=user_ids
        ).update(status=UpsellSession.Status.CONVERTED, ended_at=now)
        cancelled = EmailOutbox.objects.filter(
            user_id__in=user_ids, category=Category.UPSELL, status__in=EmailOutbox.DUE_STATUSES
        ).update(
            status=EmailOutbox.Status.CANCELLED,
            next_attempt_at=None,
            last_error="recipient is already Pro",
            updated_at=now,
        )
    return {"converted": converted, "cancelled": cancelled}


def upsell_sessions_expire(*, now: datetime) -> int:
    return UpsellSession.objects.filter(
        status=UpsellSession.Status.ACTIVE, deadline__lte=now
    ).update(status=UpsellSession.Status.EXPIRED, ended_at=now)


def upsell_process_due(*, now: datetime | None = None, batch_size: int = 200) -> dict:
    """Queue each active session's next step once it is due; stop converted/expired ones.

    Two steps of a session are at least UPSELL_MIN_STEP_GAP apart, counted from when the
    previous one was queued or sent, whichever is later, and a step waits while the previous
    one is still in the outbox: a scheduler or relay that was down does not make a user
    receive the sequence in a burst.
    """
    now = now or timezone.now()
    counts: Counter = Counter()
    counts.update(upsell_sessions_convert(now=now))
    counts["expired"] = upsell_sessions_expire(now=now)
    steps_by_sequence: dict[int, list] = {}
    for sequence in UpsellSequence.objects.filter(is_active=True).prefetch_related("steps"):
        steps_by_sequence[sequence.pk] = list(sequence.steps.all())

    last_id = 0
    while True:
        with transaction.atomic():
            sessions = list(
                UpsellSession.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("user")
                .filter(
                    status=UpsellSession.Status.ACTIVE,
                    sequence_id__in=list(steps_by_sequence),
                    id__gt=last_id,
                )
                .order_by("id")[:batch_size]
            )
            if not sessions:
                break
            last_id = sessions[-1].id
            previous = _upsell_previous_rows(sessions, steps_by_sequence)
            for session in sessions:
                counts.update(
                    _upsell_step(
                        session,
                        steps_by_sequence[session.sequence_id],
                        now,
                        previous.get(_upsell_previous_key(session, steps_by_sequence)),
                    )
                )
    return _counts(counts)


def _upsell_step(
    session: UpsellSession, steps: list, now: datetime, previous: EmailOutbox | None
) -> Counter:
    counts: Counter = Counter()
    if session.current_step < len(steps):
        step = steps[session.current_step]
        if _upsell_step_waits(session, step, now, previous):
            return counts
        consent_context, headers = marketing_extras(user_id=session.user_id)
        try:
            outbox_enqueue(
                recipient=session.user.email,
                template=step.template,
                context={
                    "user": session.user,
                    "session": session,
                    "step": step,
                    "deadline": session.deadline,
                    "pro_url": pro_url(session.user_id),
                    **consent_context,
                },
                headers=headers,
                category=Category.UPSELL,
                idempotency_key=_upsell_key(session, step),
                user=session.user,
            )
            counts["queued"] += 1
        except OutboxError as exc:
            # No write happened: the step is skipped for this session, the others go on.
            logger.warning("upsell session %s step %s not queued: %s", session.pk, step.pk, exc)
            counts["errors"] += 1
        session.current_step += 1
        session.last_step_at = now
    if session.current_step >= len(steps):
        session.status = UpsellSession.Status.COMPLETED
        session.ended_at = now
        counts["completed"] += 1
    session.save(update_fields=["current_step", "last_step_at", "status", "ended_at"])
    return counts


def _upsell_key(session: UpsellSession, step) -> str:
    return f"upsell:{session.pk}:{step.pk}"


def _upsell_previous_key(session: UpsellSession, steps_by_sequence: dict) -> str | None:
    steps = steps_by_sequence[session.sequence_id]
    if not 0 < session.current_step <= len(steps):
        return None
    return _upsell_key(session, steps[session.current_step - 1])


def _upsell_previous_rows(sessions: list, steps_by_sequence: dict) -> dict[str, EmailOutbox]:
    # The outbox rows of each session's previous step, in one query per batch.
    keys = [_upsell_previous_key(session, steps_by_sequence) for session in sessions]
    return {
        row.idempotency_key: row
        for row in EmailOutbox.objects.filter(idempotency_key__in=[k for k in keys if k]).only(
            "idempotency_key", "status", "sent_at"
        )
    }


def _upsell_step_waits(
    session: UpsellSession, step, now: datetime, previous: EmailOutbox | None
) -> bool:
    if session.started_at + step.delay > now:
        return True
    if session.current_step == 0:
        return False
    pending = (*EmailOutbox.DUE_STATUSES, EmailOutbox.Status.SENDING)
    if previous is not None and previous.status in pending:
        return True
    last = session.last_step_at or session.started_at
    if previous is not None and previous.sent_at is not None:
        last = max(last, previous.sent_at)
    return last + settings.UPSELL_MIN_STEP_GAP > now
