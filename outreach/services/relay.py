"""The outbox relay: sends due rows through the ESP, each email once through faults.

- Sends stay in flight continuously (no batch barrier): a slot that frees is refilled at once,
  and a relay never holds more than EMAIL_RELAY_CONCURRENCY rows in `sending` (in flight or
  with a result not yet recorded), so a kill -9 resends at most that many.
- A result the ESP gave is never forgotten: it waits in memory until the database takes it
  (retried with backoff on a fresh connection), and the relay's claims are extended while
  it holds them, so a database outage or restart resends nothing.
- Every ESP request has one wall-clock deadline (outreach/esp_deadline.py). A request that
  timed out or was dropped after it left is *ambiguous*: the ESP may have the email. The row
  waits EMAIL_AMBIGUOUS_SETTLE_SECONDS for an ESP event carrying its outbox id (metadata),
  which marks it sent (outreach.services.events.outbox_record_event); only then is it resent.
"""

import logging
import os
import queue
import random
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from django.conf import settings
from django.db import Error as DatabaseFault
from django.db import connection as database
from django.db import transaction
from django.db.models import Case, CharField, DateTimeField, F, Value, When
from django.utils import timezone

from outreach.errors import OutboxError
from outreach.models import EmailOutbox
from outreach.selectors import outbox_due, outbox_rows_refused
from outreach.services.counts import _counts
from outreach.services.sending import EspSender, SendResult, _one_line

logger = logging.getLogger(__name__)

Status = EmailOutbox.Status
AMBIGUOUS = "ambiguous"
# Waits between attempts to reach the database while holding results (capped).
DATABASE_RETRY_SECONDS = (0.25, 0.5, 1.0, 2.0)
RECLAIM_EVERY_SECONDS = 2.0
# How long a finished send waits for others to be recorded with it (a few ms of a slot's time).
GROUP_LINGER_SECONDS = 0.003


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


class OutboxRelay:
    """Keeps up to `concurrency` sends in flight; the database is touched only by the thread
    that calls drain(), a few set-based statements per wake-up."""

    def __init__(self, *, batch_size: int | None = None, concurrency: int | None = None):
        self.concurrency = concurrency or settings.EMAIL_RELAY_CONCURRENCY
        # The most rows one claim statement takes (never more than the free send slots).
        self.batch_size = batch_size or settings.EMAIL_RELAY_BATCH_SIZE
        if self.batch_size < 1 or self.concurrency < 1:
            raise OutboxError("batch size and concurrency must be at least 1")
        self.relay_id = f"{socket.gethostname()}:{os.getpid()}"
        # One claim token for the relay's life: a row still carrying it is still ours.
        self.claim_token = f"{uuid.uuid4().hex}"
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="outbox-relay")
        self._sender = EspSender()
        self._done: queue.SimpleQueue[SendResult] = queue.SimpleQueue()
        self._in_flight: dict[int, EmailOutbox] = {}
        self._held: dict[int, tuple[EmailOutbox, SendResult]] = {}
        self._database_down_since: float | None = None
        self._database_retry_at = 0.0
        self._database_failures = 0
        self._claims_extended_at = time.monotonic()
        self._reclaimed_at = 0.0

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        self._pool.shutdown(wait=True)
        for connection in self._sender.close():
            try:
                connection.close()
            except Exception:  # a broken connection at shutdown is not worth a crash
                logger.warning("closing an ESP connection failed", exc_info=True)

    # --- the loop ------------------------------------------------------------------------

    def drain(
        self, *, max_seconds: float | None = None, should_stop: Callable[[], bool] | None = None
    ) -> dict:
        """Send until nothing is due, time is up or should_stop() says so; then finish the
        sends in flight (each bounded by its deadline) and record every result."""
        counts: Counter = Counter()
        started = time.monotonic()
        stopping_since = None
        nothing_due = False
        while True:
            stopping = bool(should_stop and should_stop()) or (
                max_seconds is not None and time.monotonic() - started >= max_seconds
            )
            if stopping and stopping_since is None:
                stopping_since = time.monotonic()
            wants_rows = not stopping and not nothing_due and self._free_slots() > 0
            if (self._held or wants_rows) and self._database_usable():
                claimed = self._database(lambda c=wants_rows: self._exchange(counts, claim=c))
                if wants_rows and claimed is not None:
                    nothing_due = claimed == 0
            if not self._in_flight and not self._held:
                if stopping or nothing_due:
                    break
            self._collect(wait=bool(self._in_flight))
            self._extend_claims_when_due()
            if not self._in_flight and not self._database_usable():
                if stopping and (not self._held or self._given_up(stopping_since)):
                    break
                time.sleep(max(0.0, min(0.2, self._database_retry_at - time.monotonic())))
        return _counts(counts)

    def process_batch(self) -> dict:
        """Claim up to batch_size rows, send them and record the results (tests, admin)."""
        counts: Counter = Counter()
        self._exchange(counts, claim=True, limit=self.batch_size)
        while self._in_flight:
            self._collect(wait=True)
        self._exchange(counts, claim=False)
        return _counts(counts)

    def _free_slots(self) -> int:
        return self.concurrency - len(self._in_flight) - len(self._held)

    def _exchange(self, counts: Counter, *, claim: bool, limit: int | None = None) -> int:
        """One transaction: record the results held, then claim rows for the free slots.
        Results leave memory, and claimed rows go to the senders, only once it committed."""
        held = dict(self._held)
        rows: list[EmailOutbox] = []
        suppressed: set[EmailOutbox] = set()
        with transaction.atomic():
            rows_held = [row for row, _ in held.values()]
            recorded = self._record(rows_held, [result for _, result in held.values()])
            if claim:
                free = self.concurrency - len(self._in_flight)
                rows, suppressed, reclaimed = self._claim_rows(min(free, limit or self.batch_size))
        for pk in held:
            self._held.pop(pk, None)
        counts.update(recorded)
        if not claim:
            return 0
        counts.update(reclaimed)
        counts["claimed"] += len(rows)
        counts["suppressed"] += len(suppressed)
        for row in rows:
            if row not in suppressed:
                self._in_flight[row.id] = row
                self._pool.submit(self._send_and_report, row)
        return len(rows)

    def _collect(self, *, wait: bool) -> None:
        """Move finished sends to the held results (waiting a little for one if asked).

        Results finishing within GROUP_LINGER_SECONDS of each other are recorded together,
        up to a quarter of the slots: fewer transactions per email, slots refilled at once.
        """
        try:
            result = self._done.get(timeout=0.2) if wait else self._done.get_nowait()
        except queue.Empty:
            return
        group = max(1, self.concurrency // 4)
        linger_until = time.monotonic() + GROUP_LINGER_SECONDS
        while True:
            row = self._in_flight.pop(result.id)
            self._held[result.id] = (row, result)
            remaining = linger_until - time.monotonic()
            try:
                if len(self._held) < group and self._in_flight and remaining > 0:
                    result = self._done.get(timeout=remaining)
                else:
                    result = self._done.get_nowait()
            except queue.Empty:
                return

    def _given_up(self, stopping_since: float) -> bool:
        """Stopping with the database away: hold results for EMAIL_RELAY_SHUTDOWN_GRACE
        seconds at most, then leave the rows to the claim timeout (a resend, said loudly)."""
        if time.monotonic() - stopping_since < settings.EMAIL_RELAY_SHUTDOWN_GRACE_SECONDS:
            return False
        logger.error(
            "outbox relay %s: stopping with %s results the database never took; those rows "
            "go out again after EMAIL_CLAIM_TIMEOUT_SECONDS",
            self.relay_id,
            len(self._held),
        )
        return True

    # --- the database, through faults ----------------------------------------------------

    def _database_usable(self) -> bool:
        return self._database_down_since is None or time.monotonic() >= self._database_retry_at

    def _database(self, work: Callable[[], int | None]):
        """Run one unit of database work; a fault keeps everything in memory, logs once per
        outage, and schedules the next try on a fresh connection."""
        try:
            outcome = work()
        except DatabaseFault as exc:
            self._database_failures += 1
            wait = DATABASE_RETRY_SECONDS[
                min(self._database_failures, len(DATABASE_RETRY_SECONDS)) - 1
            ]
            self._database_retry_at = time.monotonic() + wait
            if self._database_down_since is None:
                self._database_down_since = time.monotonic()
                logger.warning(
                    "outbox relay %s: database unavailable (%s); holding %s results and %s "
                    "sends in flight until it answers",
                    self.relay_id,
                    _one_line(exc),
                    len(self._held),
                    len(self._in_flight),
                )
            _close_quietly()
            return None
        if self._database_down_since is not None:
            logger.warning(
                "outbox relay %s: database available again after %.1f s",
                self.relay_id,
                time.monotonic() - self._database_down_since,
            )
            self._database_down_since = None
            self._database_failures = 0
        return outcome

    def _extend_claims_when_due(self) -> None:
        """Rows this relay holds keep a fresh claim, so no other relay takes them over."""
        every = settings.EMAIL_CLAIM_TIMEOUT_SECONDS / 4
        if time.monotonic() - self._claims_extended_at < every or not self._database_usable():
            return
        ids = [*self._in_flight, *self._held]
        if ids:
            self._database(
                lambda: EmailOutbox.objects.filter(
                    id__in=ids, claim_token=self.claim_token, status=Status.SENDING
                ).update(claimed_at=timezone.now())
            )
        if self._database_down_since is None:
            self._claims_extended_at = time.monotonic()

    # --- claim ---------------------------------------------------------------------------

    def _claim_rows(self, limit: int) -> tuple[list[EmailOutbox], set[EmailOutbox], dict]:
        """Claim up to `limit` due rows (inside the caller's transaction); suppressed ones are
        settled at once. Returns (rows, the suppressed among them, reclaim counts)."""
        reclaimed = {}
        if time.monotonic() - self._reclaimed_at >= RECLAIM_EVERY_SECONDS:
            reclaimed = outbox_reclaim_stuck(now=timezone.now())
            self._reclaimed_at = time.monotonic()
        rows = self._claim(limit)
        if not rows:
            return [], set(), reclaimed
        suppressed = outbox_rows_refused(rows)
        if suppressed:
            EmailOutbox.objects.filter(
                id__in=[row.id for row in suppressed], status=Status.SENDING
            ).update(
                status=Status.SUPPRESSED,
                claim_token="",
                next_attempt_at=None,
                last_error="address is on the suppression list",
                updated_at=timezone.now(),
            )
        return rows, suppressed, reclaimed

    def _claim(self, limit: int | None = None) -> list[EmailOutbox]:
        now = timezone.now()
        with transaction.atomic(savepoint=False):
            # SKIP LOCKED on PostgreSQL lets several relays take different rows at once;
            # SQLite ignores it (its write lock serialises relays) and the conditional
            # UPDATE below is the claim on both.
            rows = list(
                outbox_due(now=now).select_for_update(skip_locked=True)[: limit or self.batch_size]
            )
            if not rows:
                return []
            claimed = EmailOutbox.objects.filter(
                id__in=[row.id for row in rows],
                status__in=EmailOutbox.DUE_STATUSES,
                next_attempt_at__lte=now,
            ).update(
                status=Status.SENDING,
                claim_token=self.claim_token,
                claimed_at=now,
                attempts=F("attempts") + 1,
                updated_at=now,
            )
            if claimed != len(rows):
                # SQLite without row locks: another relay got some first; ask which are ours.
                ours = set(
                    EmailOutbox.objects.filter(
                        id__in=[row.id for row in rows],
                        claim_token=self.claim_token,
                        status=Status.SENDING,
                    ).values_list("id", flat=True)
                )
                rows = [row for row in rows if row.id in ours]
        for row in rows:
            row.status, row.claim_token, row.claimed_at = Status.SENDING, self.claim_token, now
            row.attempts += 1
        return sorted(rows, key=lambda row: row.id)

    # --- send ----------------------------------------------------------------------------

    def _send_one(self, row: EmailOutbox) -> SendResult:
        return self._sender.send(row)

    def _send_and_report(self, row: EmailOutbox) -> None:
        try:
            result = self._send_one(row)
        except Exception as exc:  # noqa: BLE001 - a send must always report back
            result = SendResult(row.id, ok=False, error=_one_line(exc))
        self._done.put(result)

    # --- record --------------------------------------------------------------------------

    def _record(self, rows: list[EmailOutbox], results: list[SendResult]) -> Counter:
        """Record results with a few set-based UPDATEs; only on rows still claimed by this
        relay (a row taken over, or settled by an ESP event, is not ours to change)."""
        counts: Counter = Counter()
        if not rows:
            return counts
        now = timezone.now()
        by_id = {row.id: row for row in rows}
        sent, retry, dead = [], [], []
        for result in results:
            row = by_id[result.id]
            if result.ok:
                sent.append(result)
            elif result.permanent or row.attempts >= settings.EMAIL_MAX_ATTEMPTS:
                reason = "rejected" if result.permanent else "gave up after retries"
                if result.ambiguous:
                    reason += f" ({AMBIGUOUS})"
                dead.append((result.id, f"{reason}: {result.error}"[:2000]))
            else:
                delay = backoff_delay(row.attempts)
                if result.ambiguous:
                    # Give the ESP's events time to say whether it has the email.
                    delay = max(delay, timedelta(seconds=settings.EMAIL_AMBIGUOUS_SETTLE_SECONDS))
                    error = f"{AMBIGUOUS}: {result.error}; resent only if no ESP event for it"
                else:
                    error = result.error
                retry.append((result.id, now + delay, error[:2000], result.ambiguous))
        ours = EmailOutbox.objects.filter(claim_token=self.claim_token, status=Status.SENDING)
        recorded = 0
        with transaction.atomic(savepoint=False):
            if sent:
                done = ours.filter(id__in=[r.id for r in sent]).update(
                    status=Status.SENT,
                    claim_token="",
                    sent_at=now,
                    esp_name=settings.EMAIL_ESP,
                    esp_message_id=_by_id([(r.id, r.message_id) for r in sent], CharField()),
                    next_attempt_at=None,
                    last_error="",
                    updated_at=now,
                )
                counts["sent"] += done
                recorded += done
            for ambiguous, key in ((False, "failed"), (True, AMBIGUOUS)):
                group = [item for item in retry if item[3] is ambiguous]
                if group:
                    done = ours.filter(id__in=[item[0] for item in group]).update(
                        status=Status.RETRY,
                        claim_token="",
                        next_attempt_at=_by_id([(i, at) for i, at, _, _ in group], DateTimeField()),
                        last_error=_by_id([(i, error) for i, _, error, _ in group], CharField()),
                        updated_at=now,
                    )
                    counts[key] += done
                    recorded += done
            if dead:
                done = ours.filter(id__in=[item[0] for item in dead]).update(
                    status=Status.DEAD,
                    claim_token="",
                    next_attempt_at=None,
                    last_error=_by_id(dead, CharField()),
                    updated_at=now,
                )
                counts["dead"] += done
                recorded += done
        if recorded < len(results):
            lost = len(results) - recorded
            counts["lost_claim"] += lost
            logger.warning(
                "outbox relay %s: %s rows were taken over or settled before their result was saved",
                self.relay_id,
                lost,
            )
        return Counter(_counts(counts))


def _by_id(pairs, output_field):
    """A CASE choosing each row's own value: one UPDATE for rows with different values."""
    return Case(
        *[When(id=pk, then=Value(value, output_field=output_field)) for pk, value in pairs],
        output_field=output_field,
    )


def _close_quietly() -> None:
    if database.in_atomic_block:
        return  # a caller's transaction (a test's) owns the connection; it cannot be renewed
    try:
        database.close()
    except DatabaseFault:
        pass  # the connection is already gone; the next query opens a fresh one


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
