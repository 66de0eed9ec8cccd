"""Writing one batch while the next is prepared: a pipeline one batch deep.

A batch job that prepares rows in Python (scoring, rendering) and then writes them leaves
PostgreSQL idle while Python works and Python idle while PostgreSQL writes. WriteBehind runs
each batch's write in one thread of its own, with its own database connection (Django gives
every thread one), so the caller prepares batch N+1 while batch N is written. Each write is
its own transaction, as it would be inline: a failed write rolls back only its batch.

Only one batch is in flight, so memory stays that of two batches whatever the run's size.
The writes run in another connection, so they cannot join a transaction the caller holds:
callers inside transaction.atomic() (and SQLite, one writer at a time) write inline.

While writes run behind, the interpreter hands its lock (the GIL) between threads every
0.5 ms instead of every 5 ms: each thread waits on the database many times a batch (every
query, and every time the socket is full during a COPY) and then needs the lock back from
the other, CPU-bound one. At 5 ms a hand-over, those waits made the pipelined digest slower
than writing inline on a loaded machine; at 0.5 ms it was 1.4x faster (bench/digest.py).
"""

import logging
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from django.db import connections

logger = logging.getLogger(__name__)

SWITCH_INTERVAL_SECONDS = 0.0005
_switch_lock = threading.Lock()
_switch_users = 0
_switch_interval_before = None


class WriteBehind:
    """`with WriteBehind(write) as writer: writer.submit(batch)`; `writer.results` holds what
    each write returned, in order. A write's error is raised by the next submit() or at the
    end of the block, after which nothing more is written."""

    def __init__(self, write):
        self._write = write
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-behind")
        self._pending: Future | None = None
        self.results: list = []

    def submit(self, batch) -> None:
        self._wait()  # the batch before is written (or its error raised) first
        self._pending = self._executor.submit(self._write, batch)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            self.results.append(pending.result())

    def __enter__(self) -> "WriteBehind":
        _fast_switching(True)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._wait()
            elif self._pending is not None:
                # The caller failed: let the batch already handed over finish (it is a
                # transaction of its own), and report its own failure without hiding the
                # caller's.
                try:
                    self._wait()
                except Exception:
                    logger.exception("write-behind: the last batch failed too")
        finally:
            try:
                # The thread's connection is closed in the thread that opened it.
                self._executor.submit(connections.close_all).result()
                self._executor.shutdown()
            finally:
                _fast_switching(False)


def _fast_switching(on: bool) -> None:
    # Counted: the process-wide interval is restored when the last pipeline in it ends.
    global _switch_users, _switch_interval_before
    with _switch_lock:
        if on:
            if _switch_users == 0:
                _switch_interval_before = sys.getswitchinterval()
                sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
            _switch_users += 1
        else:
            _switch_users -= 1
            if _switch_users == 0:
                sys.setswitchinterval(_switch_interval_before)
