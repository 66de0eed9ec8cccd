"""Upsell sequences: start a session, queue each due step, stop converted or expired ones."""

import logging
from collections import Counter
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.selectors import pro_subscribers
from outreach.errors import OutboxError
from outreach.models import Category, UpsellSequence, UpsellSession
from outreach.services.counts import _counts
from outreach.services.outbox import outbox_enqueue
from proletto.preferences_link import preferences_url, pro_url

logger = logging.getLogger(__name__)


def upsell_session_start(*, user, sequence_code: str, now: datetime | None = None):
    """Start `sequence_code` for a free user; returns the (existing) active session or None."""
    now = now or timezone.now()
    sequence = UpsellSequence.objects.filter(code=sequence_code, is_active=True).first()
    if sequence is None:
        raise OutboxError(f"no active upsell sequence {sequence_code!r}")
    if pro_subscribers().filter(pk=user.pk).exists():
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


def upsell_sessions_convert(*, now: datetime) -> int:
    return UpsellSession.objects.filter(
        status=UpsellSession.Status.ACTIVE, user__in=pro_subscribers().values("pk")
    ).update(status=UpsellSession.Status.CONVERTED, ended_at=now)


def upsell_sessions_expire(*, now: datetime) -> int:
    return UpsellSession.objects.filter(
        status=UpsellSession.Status.ACTIVE, deadline__lte=now
    ).update(status=UpsellSession.Status.EXPIRED, ended_at=now)


def upsell_process_due(*, now: datetime | None = None, batch_size: int = 200) -> dict:
    """Queue each active session's next step once it is due; stop converted/expired ones.

    At most one step per session per run: a scheduler that was down does not make a user
    receive the whole sequence at once.
    """
    now = now or timezone.now()
    counts: Counter = Counter()
    counts["converted"] = upsell_sessions_convert(now=now)
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
            for session in sessions:
                counts.update(_upsell_step(session, steps_by_sequence[session.sequence_id], now))
    return _counts(counts)


def _upsell_step(session: UpsellSession, steps: list, now: datetime) -> Counter:
    counts: Counter = Counter()
    if session.current_step < len(steps):
        step = steps[session.current_step]
        if session.started_at + step.delay > now:
            return counts
        try:
            outbox_enqueue(
                recipient=session.user.email,
                template=step.template,
                context={
                    "user": session.user,
                    "session": session,
                    "step": step,
                    "deadline": session.deadline,
                    "preferences_url": preferences_url(session.user_id),
                    "pro_url": pro_url(session.user_id),
                },
                category=Category.UPSELL,
                idempotency_key=f"upsell:{session.pk}:{step.pk}",
                user=session.user,
            )
            counts["queued"] += 1
        except OutboxError as exc:
            # No write happened: the step is skipped for this session, the others go on.
            logger.warning("upsell session %s step %s not queued: %s", session.pk, step.pk, exc)
            counts["errors"] += 1
        session.current_step += 1
    if session.current_step >= len(steps):
        session.status = UpsellSession.Status.COMPLETED
        session.ended_at = now
        counts["completed"] += 1
    session.save(update_fields=["current_step", "status", "ended_at"])
    return counts
