"""The outbox (every email Proletto sends), delivery tracking, suppressions, upsell sequences
and the clean-up of expired data.

Delivery is at least once towards the ESP and exactly once per row on our side: a row is sent
only by the relay that claimed it, and a claim is only taken over after
EMAIL_CLAIM_TIMEOUT_SECONDS (a relay that died mid-send).
"""

import hashlib
import logging
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone
from django_apscheduler.models import DjangoJobExecution

from billing.selectors import pro_subscribers
from outreach.errors import OutboxError
from outreach.models import (
    Category,
    EmailEvent,
    EmailOutbox,
    Suppression,
    UpsellSequence,
    UpsellSession,
)
from outreach.relay import (  # noqa: F401 - the relay's services, where callers look
    OUTBOX_ID_HEADER,
    OutboxRelay,
    SendResult,
    _counts,
    backoff_delay,
    outbox_drain,
    outbox_reclaim_stuck,
)
from outreach.selectors import is_suppressed, suppressed_addresses
from proletto.bulk import objs_insert_ignoring_conflicts

logger = logging.getLogger(__name__)

Status = EmailOutbox.Status

# RFC 5322 field names: printable ASCII except the colon.
HEADER_NAME = re.compile(r"^[!-9;-~]+$")
TEMPLATE_NAME = re.compile(r"^[a-z0-9_\-]+(/[a-z0-9_\-]+)*$")


# --- enqueue ---------------------------------------------------------------------------------


def outbox_enqueue(
    *,
    recipient: str,
    template: str,
    context: dict,
    category: str,
    idempotency_key: str,
    headers: dict | None = None,
    priority: int = 0,
    user=None,
) -> EmailOutbox:
    """Queue an email rendered from templates/email/<template>/ now.

    Call it inside the transaction of the change that causes the email, so the email exists
    if and only if that change commits. The same idempotency key twice returns the first row.
    """
    if not idempotency_key or len(idempotency_key) > 255:
        raise OutboxError("idempotency_key must be 1 to 255 characters")
    existing = EmailOutbox.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing

    address = _clean_address(recipient)
    if category not in Category.values:
        raise OutboxError(
            f"unknown email category {category!r}: use one of {', '.join(Category.values)}"
        )
    if not isinstance(priority, int) or not -1000 <= priority <= 1000:
        raise OutboxError(f"priority must be a whole number from -1000 to 1000, not {priority!r}")
    clean_headers = _clean_headers(headers or {})
    subject, body_text, body_html = email_render(template=template, context=context)

    row = EmailOutbox(
        recipient=address,
        user=user,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        headers=clean_headers,
        template=template,
        category=category,
        priority=priority,
        idempotency_key=idempotency_key,
        next_attempt_at=timezone.now(),
    )
    if is_suppressed(address, category):
        row.status = Status.SUPPRESSED
        row.next_attempt_at = None
        row.last_error = "address is on the suppression list"
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        # Another transaction enqueued the same key between our lookup and our insert.
        return EmailOutbox.objects.get(idempotency_key=idempotency_key)
    return row


@dataclass(frozen=True)
class OutboxDraft:
    """One email for outbox_enqueue_many: the same fields outbox_enqueue takes."""

    recipient: str
    template: str
    context: dict
    category: str
    idempotency_key: str
    headers: dict | None = None
    priority: int = 0
    user_id: int | None = None
    # (subject, body_text, body_html) already rendered from `template` by the caller, for
    # batch senders that render many emails of one template faster than one by one (the
    # weekly digest); `context` is then not rendered again.
    rendered: tuple[str, str, str] | None = None


def outbox_enqueue_many(drafts: list[OutboxDraft]) -> dict[str, int]:
    """Queue many emails in a few queries (for batch senders such as the weekly digest).

    Same rules as outbox_enqueue: every draft is validated and rendered before anything is
    written, so one bad draft raises OutboxError and writes nothing; keys already queued are
    left as they are. Returns the outbox id of every draft's key.
    """
    now = timezone.now()
    rows = []
    for draft in drafts:
        if not draft.idempotency_key or len(draft.idempotency_key) > 255:
            raise OutboxError("idempotency_key must be 1 to 255 characters")
        if draft.category not in Category.values:
            raise OutboxError(
                f"unknown email category {draft.category!r}: "
                f"use one of {', '.join(Category.values)}"
            )
        if draft.rendered is None:
            subject, body_text, body_html = email_render(
                template=draft.template, context=draft.context
            )
        else:
            subject, body_text, body_html = draft.rendered
            subject = _clean_subject(draft.template, subject)
        rows.append(
            EmailOutbox(
                recipient=_clean_address(draft.recipient),
                user_id=draft.user_id,
                subject=subject,
                body_text=body_text,
                body_html=body_html,
                headers=_clean_headers(draft.headers or {}),
                template=draft.template,
                category=draft.category,
                priority=draft.priority,
                idempotency_key=draft.idempotency_key,
                next_attempt_at=now,
            )
        )
    for category in {row.category for row in rows}:
        suppressed = suppressed_addresses(
            [row.recipient for row in rows if row.category == category], category
        )
        for row in rows:
            if row.category == category and row.recipient.lower() in suppressed:
                row.status = Status.SUPPRESSED
                row.next_attempt_at = None
                row.last_error = "address is on the suppression list"
    # Keys queued before are looked up (all keys, where the insert cannot say what it did).
    ids = objs_insert_ignoring_conflicts(rows, key="idempotency_key") or {}
    keys = [row.idempotency_key for row in rows if row.idempotency_key not in ids]
    for start in range(0, len(keys), 500):
        ids.update(
            EmailOutbox.objects.filter(idempotency_key__in=keys[start : start + 500]).values_list(
                "idempotency_key", "id"
            )
        )
    return ids


def _clean_address(recipient) -> str:
    if not isinstance(recipient, str):
        raise OutboxError(f"invalid email address {recipient!r}")
    address = recipient.strip()
    try:
        validate_email(address)
    except ValidationError:
        raise OutboxError(f"invalid email address {recipient!r}") from None
    if len(address) > 254:
        raise OutboxError(f"email address longer than 254 characters: {address[:40]!r}...")
    return address


def _clean_headers(headers: dict) -> dict:
    clean = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not HEADER_NAME.match(name):
            raise OutboxError(f"invalid email header name {name!r}")
        if not isinstance(value, str):
            raise OutboxError(f"email header {name} must be a string, not {type(value).__name__}")
        if "\r" in value or "\n" in value:
            # A newline in a header value lets the caller inject headers (or a body).
            raise OutboxError(f"email header {name} contains a newline")
        clean[name] = value
    return clean


def email_render(*, template: str, context: dict) -> tuple[str, str, str]:
    """(subject, body_text, body_html) of templates/email/<template>/, as the outbox stores
    them; OutboxError if the template is missing, fails or renders a bad subject."""
    if not isinstance(template, str) or len(template) > 200 or not TEMPLATE_NAME.match(template):
        raise OutboxError(f"invalid email template name {template!r}")
    full_context = {
        "site_url": settings.SITE_URL,
        "footer_address": settings.EMAIL_FOOTER_ADDRESS,
        **context,
    }
    try:
        subject = render_to_string(f"email/{template}/subject.txt", full_context)
        body_text = render_to_string(f"email/{template}/body.txt", full_context)
        try:
            body_html = render_to_string(f"email/{template}/body.html", full_context)
        except TemplateDoesNotExist:
            body_html = ""
    except TemplateDoesNotExist as exc:
        raise OutboxError(f"email template {template!r} not found: {exc}") from None
    except Exception as exc:
        first_line = (str(exc).splitlines() or [""])[0]
        raise OutboxError(
            f"email template {template!r} failed to render: {type(exc).__name__}: {first_line}"
        ) from None
    return _clean_subject(template, subject), body_text, body_html


def _clean_subject(template: str, subject: str) -> str:
    subject = " ".join(subject.split())
    if not subject:
        raise OutboxError(f"email template {template!r} rendered an empty subject")
    if len(subject) > 998:  # the longest line RFC 5322 allows
        raise OutboxError(f"email template {template!r} rendered a subject over 998 characters")
    return subject


# --- relay (outreach/relay.py) ---------------------------------------------------------------


def outbox_retry_now(*, ids) -> int:
    """Queued or failed rows go out on the relay's next pass."""
    now = timezone.now()
    return EmailOutbox.objects.filter(id__in=ids, status__in=EmailOutbox.DUE_STATUSES).update(
        status=Status.QUEUED, next_attempt_at=now, updated_at=now
    )


def outbox_cancel(*, ids) -> int:
    """Rows not yet sent (nor being sent) are never sent."""
    now = timezone.now()
    return EmailOutbox.objects.filter(id__in=ids, status__in=EmailOutbox.DUE_STATUSES).update(
        status=Status.CANCELLED, next_attempt_at=None, updated_at=now
    )


def outbox_requeue_dead(*, ids) -> int:
    """Dead rows get a fresh set of attempts (after the cause was fixed)."""
    now = timezone.now()
    return EmailOutbox.objects.filter(id__in=ids, status=Status.DEAD).update(
        status=Status.QUEUED, attempts=0, next_attempt_at=now, updated_at=now
    )


# --- suppressions and ESP events -------------------------------------------------------------


def suppression_add(*, address: str, reason: str, category: str | None = None) -> Suppression:
    """Never email `address` again (in `category`, or at all); adding it twice is a no-op."""
    address = _clean_address(address).lower()
    if category is not None and category not in Category.values:
        raise OutboxError(
            f"unknown email category {category!r}: use one of {', '.join(Category.values)}"
        )
    suppression, _ = Suppression.objects.get_or_create(
        address=address,
        category=category or Suppression.ALL_CATEGORIES,
        defaults={"reason": reason[:255]},
    )
    return suppression


# Event type -> the delivery state it reports (later events by time win).
DELIVERY_STATES = {
    "deferred": EmailOutbox.Delivery.DEFERRED,
    "delivered": EmailOutbox.Delivery.DELIVERED,
    "bounced": EmailOutbox.Delivery.BOUNCED,
    "rejected": EmailOutbox.Delivery.REJECTED,
    "failed": EmailOutbox.Delivery.REJECTED,
    "complained": EmailOutbox.Delivery.COMPLAINED,
}
# Event type -> the first-time timestamp field it sets.
FIRST_SEEN = {
    "delivered": "delivered_at",
    "bounced": "bounced_at",
    "complained": "complained_at",
    "opened": "opened_at",
    "clicked": "clicked_at",
}


def outbox_record_event(
    *,
    esp_name: str,
    event_type: str,
    event_id: str | None,
    occurred_at: datetime | None,
    message_id: str | None,
    recipient: str | None,
    description: str = "",
    outbox_id: str | None = None,
) -> EmailEvent | None:
    """Apply one ESP delivery event; a duplicate (same event id) returns None and does nothing."""
    occurred_at = occurred_at or timezone.now()
    if not event_id:
        # Some ESPs send no event id: the event's own facts identify it.
        fingerprint = f"{event_type}|{message_id}|{recipient}|{occurred_at.isoformat()}"
        event_id = "sha256:" + hashlib.sha256(fingerprint.encode()).hexdigest()
    with transaction.atomic():
        # Lock the row first so two events for one email are applied one after the other.
        locked = EmailOutbox.objects.select_for_update()
        outbox = locked.filter(esp_message_id=message_id).first() if message_id else None
        if outbox is None and outbox_id and str(outbox_id).isdigit():
            outbox = locked.filter(pk=int(outbox_id)).first()
        try:
            with transaction.atomic():
                event = EmailEvent.objects.create(
                    esp_name=esp_name,
                    event_id=event_id[:255],
                    event_type=event_type,
                    occurred_at=occurred_at,
                    recipient=(recipient or "")[:254],
                    esp_message_id=(message_id or "")[:255],
                    outbox=outbox,
                    description=description or "",
                )
        except IntegrityError:
            return None
        if outbox is not None:
            _apply_event(outbox, event_type, occurred_at)
        else:
            logger.info("ESP event %s for unknown message id %r", event_type, message_id)

        address = recipient or (outbox.recipient if outbox else "")
        if event_type in ("bounced", "complained") and address:
            suppression_add(address=address, reason=f"{event_type}: {description}".strip(": "))
        if event_type == "unsubscribed" and address and outbox is not None:
            suppression_add(
                address=address, reason="unsubscribed at the ESP", category=outbox.category
            )
    return event


# An email the ESP reports on in any way has reached it, whatever the relay last saw.
UNSETTLED_STATUSES = (Status.QUEUED, Status.RETRY, Status.SENDING, Status.DEAD)


def _apply_event(outbox: EmailOutbox, event_type: str, occurred_at: datetime) -> None:
    fields = []
    if outbox.status in UNSETTLED_STATUSES:
        # An ambiguous send (timed out, dropped) that the ESP did take: never resend it.
        outbox.status = Status.SENT
        outbox.sent_at = outbox.sent_at or occurred_at
        outbox.claim_token = ""
        outbox.next_attempt_at = None
        outbox.last_error = ""
        fields += ["status", "sent_at", "claim_token", "next_attempt_at", "last_error"]
    field = FIRST_SEEN.get(event_type)
    if field and (getattr(outbox, field) is None or occurred_at < getattr(outbox, field)):
        setattr(outbox, field, occurred_at)
        fields.append(field)
    state = DELIVERY_STATES.get(event_type)
    # An old "delivered" that arrives late must not overwrite a newer "bounced".
    if state and (outbox.delivery_status_at is None or occurred_at >= outbox.delivery_status_at):
        outbox.delivery_status = state
        outbox.delivery_status_at = occurred_at
        fields += ["delivery_status", "delivery_status_at"]
    if fields:
        outbox.save(update_fields=[*fields, "updated_at"])


# --- upsell sequences ------------------------------------------------------------------------


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


# --- clean-up --------------------------------------------------------------------------------


def outreach_cleanup(*, now: datetime | None = None, batch_size: int | None = None) -> dict:
    """Expire and delete what has passed its time, in batches; returns counts per kind."""
    now = now or timezone.now()
    batch_size = batch_size or settings.CLEANUP_BATCH_SIZE
    final = EmailOutbox.FINAL_STATUSES
    body_cutoff = now - timedelta(days=settings.EMAIL_OUTBOX_BODY_RETENTION_DAYS)
    row_cutoff = now - timedelta(days=settings.EMAIL_OUTBOX_RETENTION_DAYS)

    def finished_before(cutoff):
        return Q(sent_at__lt=cutoff) | Q(sent_at__isnull=True, created_at__lt=cutoff)

    counts = {
        "upsell_sessions_expired": upsell_sessions_expire(now=now),
        "django_sessions_deleted": _delete_in_batches(
            Session.objects.filter(expire_date__lt=now), batch_size
        ),
        "job_executions_deleted": _delete_in_batches(
            DjangoJobExecution.objects.filter(
                run_time__lt=now - timedelta(days=settings.JOB_EXECUTION_RETENTION_DAYS)
            ),
            batch_size,
        ),
        "outbox_rows_deleted": _delete_in_batches(
            EmailOutbox.objects.filter(finished_before(row_cutoff), status__in=final), batch_size
        ),
        "outbox_bodies_dropped": _update_in_batches(
            EmailOutbox.objects.filter(
                finished_before(body_cutoff), status__in=final, bodies_dropped_at__isnull=True
            ),
            batch_size,
            body_text="",
            body_html="",
            bodies_dropped_at=now,
        ),
        "email_events_deleted": _delete_in_batches(
            EmailEvent.objects.filter(outbox__isnull=True, received_at__lt=row_cutoff),
            batch_size,
        ),
    }
    return counts


def _delete_in_batches(queryset: QuerySet, batch_size: int) -> int:
    # Deleting by a bounded list of primary keys keeps each statement (and its locks) short.
    model = queryset.model
    total = 0
    while True:
        pks = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            return total
        with transaction.atomic():
            model.objects.filter(pk__in=pks).delete()
        total += len(pks)


def _update_in_batches(queryset: QuerySet, batch_size: int, **values) -> int:
    model = queryset.model
    total = 0
    while True:
        pks = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            return total
        total += model.objects.filter(pk__in=pks).update(**values)
