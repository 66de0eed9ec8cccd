"""The outbox (every email Proletto sends), delivery tracking, suppressions, upsell sequences
and the clean-up of expired data.

Delivery is at least once towards the ESP and exactly once per row on our side: a row is sent
only by the relay that claimed it, and a claim is only taken over after
EMAIL_CLAIM_TIMEOUT_SECONDS (a relay that died mid-send).
"""

import hashlib
import logging
import os
import random
import re
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from anymail.exceptions import (
    AnymailAPIError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
)
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_apscheduler.models import DjangoJobExecution

from billing.selectors import pro_subscribers
from outreach.consent import has_one_click_headers, marketing_extras
from outreach.models import (
    MARKETING_CATEGORIES,
    Category,
    EmailEvent,
    EmailOutbox,
    Suppression,
    UpsellSequence,
    UpsellSession,
)
from outreach.selectors import (
    outbox_due,
    outbox_refusals,
    outbox_rows_refused,
    suppressed_addresses,
)
from proletto.bulk import objs_insert_ignoring_conflicts

logger = logging.getLogger(__name__)

Status = EmailOutbox.Status

# RFC 5322 field names: printable ASCII except the colon.
HEADER_NAME = re.compile(r"^[!-9;-~]+$")
TEMPLATE_NAME = re.compile(r"^[a-z0-9_\-]+(/[a-z0-9_\-]+)*$")
# Anymail's SendGrid backend sends every recipient a generated id; dev backends have none.
OUTBOX_ID_HEADER = "X-Proletto-Outbox-Id"


class OutboxError(Exception):
    """Bad input to an outreach service; the message says what is wrong, in one line."""


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
    clean_headers = _clean_marketing_headers(category, _clean_headers(headers or {}))
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
    _refuse_without_consent([row])
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
                headers=_clean_marketing_headers(
                    draft.category, _clean_headers(draft.headers or {})
                ),
                template=draft.template,
                category=draft.category,
                priority=draft.priority,
                idempotency_key=draft.idempotency_key,
                next_attempt_at=now,
            )
        )
    _refuse_without_consent(rows)
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


def _refuse_without_consent(rows: list[EmailOutbox]) -> None:
    # Rows the consent rule refuses are kept, as "suppressed" with the reason, never sent.
    for row, reason in zip(rows, outbox_refusals(rows), strict=True):
        if reason:
            row.status = Status.SUPPRESSED
            row.next_attempt_at = None
            row.last_error = reason


def _clean_marketing_headers(category: str, headers: dict) -> dict:
    if category in MARKETING_CATEGORIES and not has_one_click_headers(headers):
        raise OutboxError(
            f"a {category} email needs RFC 8058 List-Unsubscribe and List-Unsubscribe-Post "
            "headers (outreach.consent.marketing_extras gives them)"
        )
    return headers


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


# --- relay -----------------------------------------------------------------------------------


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


@dataclass
class SendResult:
    id: int
    ok: bool
    message_id: str = ""
    error: str = ""
    permanent: bool = False


@dataclass
class _Batch:
    counts: Counter
    rows: list
    futures: list


class OutboxRelay:
    """Claims due rows in batches and sends them with several requests in flight.

    Each sending thread keeps its own ESP connection; the database is only touched by the
    thread that calls process_batch(), a few queries per batch.
    """

    def __init__(self, *, batch_size: int | None = None, concurrency: int | None = None):
        self.batch_size = batch_size or settings.EMAIL_RELAY_BATCH_SIZE
        self.concurrency = concurrency or settings.EMAIL_RELAY_CONCURRENCY
        if self.batch_size < 1 or self.concurrency < 1:
            raise OutboxError("batch size and concurrency must be at least 1")
        self.relay_id = f"{socket.gethostname()}:{os.getpid()}"
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="outbox-relay")
        self._local = threading.local()
        self._connections = []
        self._connections_lock = threading.Lock()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        self._pool.shutdown(wait=True)
        for connection in self._connections:
            try:
                connection.close()
            except Exception:  # a broken connection at shutdown is not worth a crash
                logger.warning("closing an ESP connection failed", exc_info=True)
        self._connections = []

    def drain(
        self, *, max_seconds: float | None = None, should_stop: Callable[[], bool] | None = None
    ) -> dict:
        """Process batches until nothing is due, time is up, or should_stop() says so.

        Batches are pipelined: the next batch is claimed and handed to the senders before the
        previous one's results are written, so the senders never wait for the database.
        """
        totals: Counter = Counter()
        started = time.monotonic()
        in_flight: _Batch | None = None
        while not (should_stop and should_stop()):
            if max_seconds is not None and time.monotonic() - started >= max_seconds:
                break
            try:
                batch = self._start_batch()
            except Exception:
                # Record what was already sent before giving up, or those rows would be sent
                # again after the claim timeout.
                if in_flight is not None:
                    self._finish_batch(in_flight)
                raise
            if in_flight is not None:
                totals.update(self._finish_batch(in_flight))
            in_flight = batch
            if not batch.counts.get("claimed") and not batch.counts.get("reclaimed"):
                break
        if in_flight is not None:
            totals.update(self._finish_batch(in_flight))
        return _counts(totals)

    def process_batch(self) -> dict:
        """Claim one batch, send it and record the results."""
        return _counts(self._finish_batch(self._start_batch()))

    def _start_batch(self) -> "_Batch":
        counts: Counter = Counter()
        counts.update(outbox_reclaim_stuck(now=timezone.now()))
        rows = self._claim()
        counts["claimed"] = len(rows)
        if not rows:
            return _Batch(counts, [], [])
        suppressed = outbox_rows_refused(rows)
        if suppressed:
            counts["suppressed"] = EmailOutbox.objects.filter(
                id__in=[row.id for row in suppressed], status=Status.SENDING
            ).update(
                status=Status.SUPPRESSED,
                claim_token="",
                next_attempt_at=None,
                last_error="address is on the suppression list",
                updated_at=timezone.now(),
            )
        sendable = [row for row in rows if row not in suppressed]
        futures = [self._pool.submit(self._send_one, row) for row in sendable]
        return _Batch(counts, sendable, futures)

    def _finish_batch(self, batch: "_Batch") -> Counter:
        results = [future.result() for future in batch.futures]
        return batch.counts + self._record(batch.rows, results)

    def _claim(self) -> list[EmailOutbox]:
        now = timezone.now()
        token = uuid.uuid4().hex
        with transaction.atomic():
            # SKIP LOCKED on PostgreSQL lets several relays take different rows at once;
            # SQLite ignores it (its write lock serialises relays) and the conditional
            # UPDATE below is the claim on both.
            ids = list(
                outbox_due(now=now)
                .select_for_update(skip_locked=True)
                .values_list("id", flat=True)[: self.batch_size]
            )
            if not ids:
                return []
            EmailOutbox.objects.filter(
                id__in=ids, status__in=EmailOutbox.DUE_STATUSES, next_attempt_at__lte=now
            ).update(
                status=Status.SENDING,
                claim_token=token,
                claimed_at=now,
                attempts=F("attempts") + 1,
                updated_at=now,
            )
        return list(
            EmailOutbox.objects.filter(claim_token=token, status=Status.SENDING).order_by("id")
        )

    def _suppressed(self, rows: list[EmailOutbox]) -> set[EmailOutbox]:
        by_category: dict[str, list[EmailOutbox]] = {}
        for row in rows:
            by_category.setdefault(row.category, []).append(row)
        suppressed = set()
        for category, group in by_category.items():
            addresses = suppressed_addresses([row.recipient for row in group], category)
            suppressed |= {row for row in group if row.recipient.lower() in addresses}
        return suppressed

    def _connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = get_connection(fail_silently=False)
            connection.open()
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    def _send_one(self, row: EmailOutbox) -> SendResult:
        message = EmailMultiAlternatives(
            subject=row.subject,
            body=row.body_text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[row.recipient],
            headers={**row.headers, OUTBOX_ID_HEADER: str(row.id)},
            connection=self._connection(),
        )
        if row.body_html:
            message.attach_alternative(row.body_html, "text/html")
        # Anymail passes metadata to the ESP, which returns it with every event: an event
        # that arrives before this batch's message ids are saved still finds its row.
        message.metadata = {"outbox_id": str(row.id)}
        try:
            message.send()
        except (AnymailRecipientsRefused, AnymailInvalidAddress) as exc:
            return SendResult(row.id, ok=False, error=_one_line(exc), permanent=True)
        except AnymailAPIError as exc:
            # 4xx means the ESP will never take this message as it is (bad request, bad
            # key); 408/429 and 5xx and network errors are worth another try.
            status = exc.status_code
            permanent = status is not None and 400 <= status < 500 and status not in (408, 429)
            return SendResult(row.id, ok=False, error=_one_line(exc), permanent=permanent)
        except Exception as exc:  # SMTP or dev backends: unknown failures are retried
            return SendResult(row.id, ok=False, error=_one_line(exc))
        anymail_status = getattr(message, "anymail_status", None)
        if anymail_status is not None and anymail_status.status:
            if anymail_status.status <= {"rejected", "invalid"}:
                return SendResult(
                    row.id,
                    ok=False,
                    permanent=True,
                    error=f"ESP refused the recipient: {', '.join(anymail_status.status)}",
                )
        message_id = (anymail_status.message_id if anymail_status else None) or ""
        return SendResult(row.id, ok=True, message_id=message_id or f"local-{uuid.uuid4()}")

    def _record(self, rows: list[EmailOutbox], results: list[SendResult]) -> Counter:
        counts: Counter = Counter()
        if not rows:
            return counts
        now = timezone.now()
        by_id = {row.id: row for row in rows}
        with transaction.atomic():
            # Only rows still claimed by this batch: if a claim was taken over (this relay
            # was too slow), the other relay owns the row's fate now.
            still_ours = set(
                EmailOutbox.objects.select_for_update()
                .filter(id__in=list(by_id), claim_token=rows[0].claim_token)
                .filter(status=Status.SENDING)
                .values_list("id", flat=True)
            )
            changed = []
            for result in results:
                row = by_id[result.id]
                if row.id not in still_ours:
                    counts["lost_claim"] += 1
                    logger.warning(
                        "outbox row %s was reclaimed before its result was saved", row.id
                    )
                    continue
                row.claim_token = ""
                row.updated_at = now
                if result.ok:
                    row.status = Status.SENT
                    row.sent_at = now
                    row.esp_name = settings.EMAIL_ESP
                    row.esp_message_id = result.message_id
                    row.next_attempt_at = None
                    row.last_error = ""
                    counts["sent"] += 1
                elif result.permanent or row.attempts >= settings.EMAIL_MAX_ATTEMPTS:
                    row.status = Status.DEAD
                    row.next_attempt_at = None
                    reason = "rejected" if result.permanent else "gave up after retries"
                    row.last_error = f"{reason}: {result.error}"[:2000]
                    counts["dead"] += 1
                else:
                    row.status = Status.RETRY
                    row.next_attempt_at = now + backoff_delay(row.attempts)
                    row.last_error = result.error[:2000]
                    counts["failed"] += 1
                changed.append(row)
            EmailOutbox.objects.bulk_update(
                changed,
                [
                    "status",
                    "claim_token",
                    "updated_at",
                    "sent_at",
                    "esp_name",
                    "esp_message_id",
                    "next_attempt_at",
                    "last_error",
                ],
                batch_size=500,
            )
        return counts


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:2000]


def _counts(counter: Counter) -> dict:
    return {key: value for key, value in counter.items() if value}


def outbox_reclaim_stuck(*, now: datetime) -> dict:
    """Rows left in `sending` by a relay that died go back to the queue (or die if spent)."""
    cutoff = now - timedelta(seconds=settings.EMAIL_CLAIM_TIMEOUT_SECONDS)
    stuck = EmailOutbox.objects.filter(status=Status.SENDING, claimed_at__lt=cutoff)
    reason = "the relay sending it stopped before recording a result"
    dead = stuck.filter(attempts__gte=settings.EMAIL_MAX_ATTEMPTS).update(
        status=Status.DEAD,
        claim_token="",
        next_attempt_at=None,
        last_error=f"gave up after retries: {reason}",
        updated_at=now,
    )
    reclaimed = stuck.filter(attempts__lt=settings.EMAIL_MAX_ATTEMPTS).update(
        status=Status.RETRY, claim_token="", next_attempt_at=now, last_error=reason, updated_at=now
    )
    if dead or reclaimed:
        logger.warning("outbox: reclaimed %s stuck rows, %s of them dead", reclaimed + dead, dead)
    return {"reclaimed": reclaimed, "dead": dead}


def outbox_drain(
    *,
    max_seconds: float | None = None,
    batch_size: int | None = None,
    concurrency: int | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Send everything due (the relay job, `process_outbox`); returns counts."""
    with OutboxRelay(batch_size=batch_size, concurrency=concurrency) as relay:
        return relay.drain(max_seconds=max_seconds, should_stop=should_stop)


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


def suppression_add(
    *,
    address: str,
    reason: str,
    category: str | None = None,
    expires_at: datetime | None = None,
) -> Suppression:
    """Never email `address` again (in `category`, "marketing", or at all), or not before
    `expires_at`. A permanent suppression is never shortened; an expired one is renewed."""
    address = _clean_address(address).lower()
    scopes = [*Category.values, Suppression.MARKETING]
    if category is not None and category not in scopes:
        raise OutboxError(f"unknown email category {category!r}: use one of {', '.join(scopes)}")
    with transaction.atomic():
        suppression, created = Suppression.objects.select_for_update().get_or_create(
            address=address,
            category=category or Suppression.ALL_CATEGORIES,
            defaults={"reason": reason[:255], "expires_at": expires_at},
        )
        if not created and suppression.expires_at is not None:
            if expires_at is None or expires_at > suppression.expires_at:
                suppression.expires_at = expires_at
                suppression.reason = reason[:255]
                suppression.save(update_fields=["expires_at", "reason"])
    return suppression


def _suppress_after_soft_bounces(address: str, occurred_at: datetime) -> None:
    # One block or deferral says little (a full mailbox, a greylist, a block list for an
    # hour); EMAIL_SOFT_BOUNCE_LIMIT of them within the window suppress the address for a
    # while, so we stop hammering a receiver that keeps refusing, then try again.
    now = timezone.now()
    since = now - settings.EMAIL_SOFT_BOUNCE_WINDOW
    count = EmailEvent.objects.filter(
        SOFT_BOUNCE, recipient=address, occurred_at__gte=since
    ).count()
    if count >= settings.EMAIL_SOFT_BOUNCE_LIMIT:
        suppression_add(
            address=address,
            reason=f"{count} soft bounces or blocks since {since:%Y-%m-%d %H:%M} UTC",
            expires_at=max(occurred_at, since) + settings.EMAIL_SOFT_BOUNCE_SUPPRESSION,
        )


# Anymail reject reasons of a "bounced" event that are temporary: the receiver may take the
# next message (SendGrid reports an IP block list hit as a bounce of type "blocked").
SOFT_REJECT_REASONS = ("blocked", "timed_out")
SOFT_BOUNCE = Q(event_type="deferred") | Q(
    event_type="bounced", reject_reason__in=SOFT_REJECT_REASONS
)

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
    reject_reason: str | None = None,
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
                    reject_reason=(reject_reason or "")[:20],
                )
        except IntegrityError:
            return None
        if outbox is not None:
            _apply_event(outbox, event_type, occurred_at)
        else:
            logger.info("ESP event %s for unknown message id %r", event_type, message_id)

        address = recipient or (outbox.recipient if outbox else "")
        soft = event_type == "deferred" or reject_reason in SOFT_REJECT_REASONS
        if not address:
            pass
        elif soft:
            _suppress_after_soft_bounces(address, occurred_at)
        elif event_type in ("bounced", "complained"):
            suppression_add(address=address, reason=f"{event_type}: {description}".strip(": "))
        elif event_type == "unsubscribed":
            # One consent model: an unsubscribe from any marketing email stops all of it.
            suppression_add(
                address=address,
                reason="unsubscribed at the ESP",
                category=Suppression.MARKETING,
            )
    return event


def _apply_event(outbox: EmailOutbox, event_type: str, occurred_at: datetime) -> None:
    fields = []
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
            status=Status.CANCELLED,
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
    if previous is not None and previous.status in (*EmailOutbox.DUE_STATUSES, Status.SENDING):
        return True
    last = session.last_step_at or session.started_at
    if previous is not None and previous.sent_at is not None:
        last = max(last, previous.sent_at)
    return last + settings.UPSELL_MIN_STEP_GAP > now


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
                    "pro_url": _upsell_pro_url(),
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


def _upsell_pro_url() -> str:
    # The Pro page (/pro/) is being built (issue #20); until it lands the offer links to the
    # public opportunities page, which exists. The lead switches this to /pro/ at merge.
    return settings.SITE_URL + reverse("digests:opportunities")


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
        # Lifted soft-bounce suppressions: expired ones are ignored already, this tidies up.
        "suppressions_expired_deleted": _delete_in_batches(
            Suppression.objects.filter(expires_at__lt=now), batch_size
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
