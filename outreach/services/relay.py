"""The outbox relay: sends due rows through the ESP, each email once through faults.

- Sends stay in flight continuously (no batch barrier, no wait on the database): the relay
  claims EMAIL_RELAY_PREFETCH rows ahead of its EMAIL_RELAY_CONCURRENCY senders, so a sender
  that frees takes its next row at once, and results are recorded in small groups by the
  thread that calls drain() while the senders go on. A send keeps its sender's slot until
  its result is recorded, so a kill -9 resends at most `concurrency` emails (sent, not yet
  recorded); rows waiting for a sender (at most `prefetch`) are only delayed.
- A result the ESP gave is never forgotten: it waits in memory until the database takes it
  (retried with backoff on a fresh connection), and the relay's claims are extended while
  it holds them, so a database outage or restart resends nothing.
- Every ESP request has one wall-clock deadline (outreach/esp_deadline.py). A request that
  timed out or was dropped after it left is *ambiguous*: the ESP may have the email. The row
  waits EMAIL_AMBIGUOUS_SETTLE_SECONDS for an ESP event carrying its outbox id (metadata),
  which marks it sent (outreach.services.events.outbox_record_event); only then is it resent.
- Told to stop, a relay sends no more rows: those still waiting for a sender go back to the
  queue as they were (no attempt counted), the sends in flight end and are recorded. A send's
  attempt is counted with its result, so rows claimed but never sent (a kill -9, a stop with
  the database away) use up no attempt when they come back after the claim timeout.
"""

import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import Error as DatabaseFault
from django.db import InterfaceError, OperationalError
from django.db import connection as database
from django.utils import timezone

from outreach.errors import OutboxError
from outreach.models import EmailOutbox
from outreach.selectors import outbox_refusals
from outreach.services.counts import _counts
from outreach.services.relay_claims import (
    outbox_claim_due,
    outbox_reclaim_stuck,
    outbox_settle_refused,
)
from outreach.services.relay_results import (
    AMBIGUOUS,
    Outcome,
    backoff_delay,
    outbox_record_outcomes,
    outcome_of,
    outcome_unsent,
)
from outreach.services.sending import EspSender, SendResult, _one_line

__all__ = ["AMBIGUOUS", "OutboxRelay", "backoff_delay", "outbox_drain", "outbox_reclaim_stuck"]

logger = logging.getLogger(__name__)

Status = EmailOutbox.Status
# Waits between attempts to reach the database while holding results (capped).
DATABASE_RETRY_SECONDS = (0.25, 0.5, 1.0, 2.0)
RECLAIM_EVERY_SECONDS = 2.0
# What an outage raises (connection lost or refused, server restarting): results are held and
# the work retried. Any other database error (a bad statement, a value a column refuses)
# would fail the same way on every retry, while the relay kept its claims alive: it stops
# the relay instead (see OutboxRelay._database).
DATABASE_OUTAGE = (OperationalError, InterfaceError)
# The longest a result waits in memory for others to be recorded with it: its sender's slot
# waits as long, so this is a small share of one send (~50 ms).
GROUP_LINGER_SECONDS = 0.005


@dataclass(frozen=True)
class NotSent:
    """A row a sender took after the relay was told to stop: given back unsent."""

    id: int


class OutboxRelay:
    """Keeps up to `concurrency` sends in flight and `prefetch` rows waiting for a sender; the
    database is touched only by the thread that calls drain(): one statement per group of
    results, one short transaction per group of rows claimed."""

    def __init__(
        self,
        *,
        batch_size: int | None = None,
        concurrency: int | None = None,
        prefetch: int | None = None,
    ):
        self.concurrency = concurrency or settings.EMAIL_RELAY_CONCURRENCY
        self.prefetch = settings.EMAIL_RELAY_PREFETCH if prefetch is None else prefetch
        # The most rows one claim statement takes.
        self.batch_size = batch_size or settings.EMAIL_RELAY_BATCH_SIZE
        if self.batch_size < 1 or self.concurrency < 1:
            raise OutboxError("batch size and concurrency must be at least 1")
        if self.prefetch < 0:
            raise OutboxError("prefetch must be 0 or more")
        # Rows claimed together: half the prefetch, so the senders still have rows waiting
        # while the next group is claimed.
        self.claim_size = max(1, self.prefetch // 2)
        # Results recorded together (or after GROUP_LINGER_SECONDS).
        self.record_size = max(1, self.concurrency // 4)
        self.relay_id = f"{socket.gethostname()}:{os.getpid()}"
        # One claim token for the relay's life: a row still carrying it is still ours.
        self.claim_token = f"{uuid.uuid4().hex}"
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="outbox-relay")
        self._sender = EspSender()
        self._done: queue.SimpleQueue[SendResult | NotSent] = queue.SimpleQueue()
        # A send takes a slot, given back once its result is recorded: sends in flight plus
        # results not yet recorded stay within `concurrency`, so a kill -9 resends at most that
        # many emails, however many rows wait for a sender.
        self._send_slots = threading.Semaphore(self.concurrency)
        self._stopping = threading.Event()
        # Rows given to the senders, without a result yet (waiting for a sender, or sending).
        self._in_flight: dict[int, EmailOutbox] = {}
        self._futures: dict[int, Future] = {}
        # What each held row becomes, waiting to be recorded; when the first was held.
        self._held: dict[int, Outcome] = {}
        self._held_since: float | None = None
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
        # Senders waiting for a slot (results the database never took) give their rows back.
        self._stopping.set()
        for _ in range(self.concurrency):
            self._send_slots.release()
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
        """Send until nothing is due, time is up or should_stop() says so; then give back the
        rows no sender took, finish the sends in flight (each bounded by its deadline) and
        record every result."""
        counts: Counter = Counter()
        started = time.monotonic()
        stopping_since = None
        nothing_due = False
        self._stopping.clear()
        while True:
            stopping = bool(should_stop and should_stop()) or (
                max_seconds is not None and time.monotonic() - started >= max_seconds
            )
            if stopping and stopping_since is None:
                stopping_since = time.monotonic()
                self._stopping.set()
                self._give_back_unsent()
            # Rows are claimed a group at a time (fewer, larger claims: less CPU per email).
            wants_rows = not stopping and not nothing_due and self._room() >= self.claim_size
            if (wants_rows or self._group_ready()) and self._database_usable():
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
        self._exchange(counts, claim=True)
        while self._in_flight or self._held:
            self._collect(wait=bool(self._in_flight))
            if self._group_ready():
                # Recording frees the senders' slots for the rows still waiting.
                self._exchange(counts, claim=False)
        return _counts(counts)

    def _room(self) -> int:
        """Rows this relay may still claim (it holds at most concurrency + prefetch)."""
        return self.concurrency + self.prefetch - len(self._in_flight) - len(self._held)

    def _group_ready(self) -> bool:
        """Held results are recorded once a group is full, once the oldest has waited
        GROUP_LINGER_SECONDS, or when no send is left to join them."""
        if not self._held:
            return False
        return (
            len(self._held) >= self.record_size
            or not self._in_flight
            or time.monotonic() - self._held_since >= GROUP_LINGER_SECONDS
        )

    def _exchange(self, counts: Counter, *, claim: bool) -> int:
        """Record the results held (one statement, committed at once, so a crash after it
        resends none of them), then claim rows for the places free. Results leave memory, and
        claimed rows go to the senders, only once the database has taken them."""
        held = list(self._held.values())
        if held:
            recorded = outbox_record_outcomes(
                claim_token=self.claim_token, outcomes=held, now=timezone.now()
            )
            for outcome in held:
                del self._held[outcome.id]
                if not outcome.given_back:
                    self._send_slots.release()
            self._held_since = time.monotonic() if self._held else None
            counts.update(recorded)
            if recorded["lost_claim"]:
                logger.warning(
                    "outbox relay %s: %s rows were taken over or settled before their result "
                    "was saved",
                    self.relay_id,
                    recorded["lost_claim"],
                )
        if not claim:
            return 0
        rows, suppressed, reclaimed = self._claim_rows(min(self._room(), self.batch_size))
        counts.update(reclaimed)
        counts["claimed"] += len(rows)
        counts["suppressed"] += len(suppressed)
        for row in rows:
            if row.id not in suppressed:
                self._in_flight[row.id] = row
                self._futures[row.id] = self._pool.submit(self._send_and_report, row)
        return len(rows)

    def _collect(self, *, wait: bool) -> None:
        """Move finished sends to the held results, waiting a little for one if asked (never
        past the time the oldest held result is due to be recorded, while it can be)."""
        timeout = 0.2
        if self._held_since is not None and self._database_usable():
            timeout = max(0.0, self._held_since + GROUP_LINGER_SECONDS - time.monotonic())
        try:
            result = self._done.get(timeout=timeout) if wait else self._done.get_nowait()
        except queue.Empty:
            return
        while True:
            row = self._in_flight.pop(result.id)
            self._futures.pop(result.id, None)
            if isinstance(result, NotSent):
                self._hold(outcome_unsent(row.id, attempts=row.attempts))
            else:
                self._hold(outcome_of(result, attempts=row.attempts, now=timezone.now()))
            try:
                result = self._done.get_nowait()
            except queue.Empty:
                return

    def _hold(self, outcome: Outcome) -> None:
        if not self._held:
            self._held_since = time.monotonic()
        self._held[outcome.id] = outcome

    def _give_back_unsent(self) -> None:
        """Rows no sender has started go back to the queue (recorded with the next group)."""
        for row_id, future in list(self._futures.items()):
            if future.cancel():
                row = self._in_flight.pop(row_id)
                del self._futures[row_id]
                self._hold(outcome_unsent(row_id, attempts=row.attempts))

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
        """Run one unit of database work; an outage keeps everything in memory, logs once per
        outage, and schedules the next try on a fresh connection. Any other database error
        is logged with the rows it leaves behind and raised: the relay stops (its command
        exits non-zero), as retrying a statement the database refuses never ends."""
        try:
            outcome = work()
        except DATABASE_OUTAGE as exc:
            self._database_failures += 1
            wait = _retry_wait(self._database_failures)
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
        except DatabaseFault as exc:
            logger.error(
                "outbox relay %s: a database error that is not an outage (%s); stopping once "
                "the sends under way have finished and their results are recorded",
                self.relay_id,
                _one_line(exc),
            )
            self._settle_before_stopping()
            logger.error(
                "outbox relay %s: stopping on a database error that is not an outage (%s); "
                "rows with unrecorded results %s and rows in flight %s stay claimed and go "
                "out again after EMAIL_CLAIM_TIMEOUT_SECONDS, as after a crash",
                self.relay_id,
                _one_line(exc),
                sorted(self._held),
                sorted(self._in_flight),
            )
            raise
        if self._database_down_since is not None:
            logger.warning(
                "outbox relay %s: database available again after %.1f s",
                self.relay_id,
                time.monotonic() - self._database_down_since,
            )
            self._database_down_since = None
            self._database_failures = 0
        return outcome

    def _settle_before_stopping(self) -> None:
        """Stopping on a database error that is not an outage (one row the database refuses
        fails its whole group): rows no sender started go back, the sends under way finish
        (each bounded by its deadline), and every result is recorded on its own, so only
        what the database still refuses is left to the claim timeout and sent again."""
        self._stopping.set()
        self._give_back_unsent()
        for _ in range(self.concurrency):
            self._send_slots.release()  # a sender waiting for a slot gives its row back
        while self._in_flight:
            # No group to fill now (results are recorded one by one below): wait for sends
            # without the linger deadline, which would make this loop spin.
            self._held_since = None
            self._collect(wait=True)
        give_up_at = time.monotonic() + settings.EMAIL_RELAY_SHUTDOWN_GRACE_SECONDS
        for outcome in list(self._held.values()):
            if not self._record_alone(outcome, give_up_at=give_up_at):
                return  # the database stayed away: the rest wait for the claim timeout

    def _record_alone(self, outcome: Outcome, *, give_up_at: float) -> bool:
        """Record one held result on its own statement; a row the database refuses alone is
        left to the claim timeout. An outage is retried until `give_up_at` (give or take the
        last attempt's own time), as a stop with the database away is; False if it lasted.
        Inside a caller's transaction (a test's) the connection cannot be renewed, so a retry
        would fail alike."""
        failures = 0
        while True:
            try:
                outbox_record_outcomes(
                    claim_token=self.claim_token, outcomes=[outcome], now=timezone.now()
                )
            except DATABASE_OUTAGE:
                failures += 1
                wait = _retry_wait(failures)
                if database.in_atomic_block or time.monotonic() + wait > give_up_at:
                    return False
                _close_quietly()
                time.sleep(wait)
                continue
            except DatabaseFault:
                return True  # refused on its own too
            del self._held[outcome.id]
            if not outcome.given_back:
                self._send_slots.release()
            return True

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

    def _claim_rows(self, limit: int) -> tuple[list[EmailOutbox], set[int], dict]:
        """Claim up to `limit` due rows; those refused (suppressed, unsubscribed, ...) are
        settled at once with their reason. Returns (rows, the ids refused, reclaim counts)."""
        reclaimed = {}
        now = timezone.now()
        if time.monotonic() - self._reclaimed_at >= RECLAIM_EVERY_SECONDS:
            reclaimed = outbox_reclaim_stuck(now=now)
            self._reclaimed_at = time.monotonic()
        # The claim commits on its own (one round trip: results arriving meanwhile wait for
        # it); if the database fails before the consent check is done, the rows are held as
        # given back, recorded when it answers again.
        rows = outbox_claim_due(claim_token=self.claim_token, limit=limit, now=now)
        if not rows:
            return [], set(), reclaimed
        try:
            reasons = outbox_refusals(rows)
            refused = {row.id: reason for row, reason in zip(rows, reasons, strict=True) if reason}
            if refused:
                outbox_settle_refused(refused, claim_token=self.claim_token, now=now)
        except DatabaseFault:
            for row in rows:
                self._hold(outcome_unsent(row.id, attempts=row.attempts))
            raise
        return rows, set(refused), reclaimed

    # --- send ----------------------------------------------------------------------------

    def _send_one(self, row: EmailOutbox) -> SendResult:
        return self._sender.send(row)

    def _send_and_report(self, row: EmailOutbox) -> None:
        self._send_slots.acquire()
        if self._stopping.is_set():
            self._send_slots.release()
            self._done.put(NotSent(row.id))
            return
        try:
            result = self._send_one(row)
        except Exception as exc:  # noqa: BLE001 - a send must always report back
            result = SendResult(row.id, ok=False, error=_one_line(exc))
        self._done.put(result)


def _retry_wait(failures: int) -> float:
    """Seconds before the next try at the database after `failures` in a row."""
    return DATABASE_RETRY_SECONDS[min(failures, len(DATABASE_RETRY_SECONDS)) - 1]


def _close_quietly() -> None:
    if database.in_atomic_block:
        return  # a caller's transaction (a test's) owns the connection; it cannot be renewed
    try:
        database.close()
    except DatabaseFault:
        pass  # the connection is already gone; the next query opens a fresh one


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
