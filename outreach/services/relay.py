"""The outbox relay: claim due rows, send them through the ESP, record results with backoff.

Delivery is at least once towards the ESP and exactly once per row on our side: a row is sent
only by the relay that claimed it, and a claim is only taken over after
EMAIL_CLAIM_TIMEOUT_SECONDS (a relay that died mid-send).
"""

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from anymail.exceptions import AnymailAPIError, AnymailInvalidAddress, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from outreach.errors import OutboxError
from outreach.models import EmailOutbox
from outreach.selectors import outbox_due, outbox_rows_refused, suppressed_addresses
from outreach.services.counts import _counts

logger = logging.getLogger(__name__)

Status = EmailOutbox.Status

# Anymail's SendGrid backend sends every recipient a generated id; dev backends have none.
OUTBOX_ID_HEADER = "X-Proletto-Outbox-Id"


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
