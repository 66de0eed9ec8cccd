"""The `runapscheduler` process: leader or standby, dispatching jobs while it holds the lease.

The loop does at most a few small queries per SCHEDULER_POLL_SECONDS and otherwise sleeps on a
threading.Event until the next fire time, the next poll or a stop signal, whichever comes
first: changes made by other processes (run-now, pause, resume, schedules) are seen within
one poll and idle CPU stays near zero. Jobs run in their own daemon threads, one at a time
per job (max_instances=1).
"""

import logging
import os
import socket
import threading
import time
import uuid

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Min
from django.utils import timezone
from django_apscheduler.models import DjangoJob

from proletto.scheduling.claims import Claim, due_runs_claim, run_requests_claim
from proletto.scheduling.execution import job_execute, run_requests_orphaned_fail
from proletto.scheduling.history import executions_orphaned_close
from proletto.scheduling.job_threads import JobRun, JobThreads
from proletto.scheduling.jobstore import jobs_missing, jobs_sync
from proletto.scheduling.leadership import (
    executions_interrupt,
    instance_beat,
    instance_forget,
    instances_prune,
    lease_acquire,
    lease_release,
)

logger = logging.getLogger("proletto.scheduling")


class SchedulerProcess:
    def __init__(self, *, holder: str | None = None):
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_seconds = float(settings.SCHEDULER_LEASE_SECONDS)
        self.poll_seconds = float(settings.SCHEDULER_POLL_SECONDS)
        self.grace_seconds = float(settings.SCHEDULER_SHUTDOWN_GRACE_SECONDS)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        # Each job's runs share one thread and its database session (job_threads.py).
        self._job_threads = JobThreads()
        self._running: dict[str, tuple[JobRun, int]] = {}
        self._leading_until = 0.0  # monotonic; past it we stop starting jobs
        self._next_renew_at = 0.0
        self._next_beat_at = 0.0
        self._was_leader = False
        self._next_housekeeping_at = 0.0
        self.first_backoff = min(1.0, self.poll_seconds)
        # Job store rows the claims could not read, said once each (job id: why).
        self._unreadable_logged: dict[str, str] = {}

    # --- public ------------------------------------------------------------------------

    def request_stop(self, *_args) -> None:
        self.stopping.set()

    def run(self) -> None:
        logger.info("scheduler %s starting (standby until it holds the lease)", self.holder)
        outage_since = None
        backoff = self.first_backoff
        while not self.stopping.is_set():
            try:
                timeout = self.tick()
                if outage_since is not None:
                    logger.warning(
                        "database is back after %.0fs; catching up", time.monotonic() - outage_since
                    )
                    outage_since = None
                    backoff = self.first_backoff
            except DatabaseError as exc:
                if outage_since is None:
                    outage_since = time.monotonic()
                    logger.error("database unavailable, retrying with backoff: %s", exc)
                connection.close()
                timeout = backoff
                # Capped at one poll: the database is noticed within a poll of its return.
                backoff = min(backoff * 2, self.poll_seconds)
            except Exception:
                # A bug or a corrupt job state must not kill the only process running jobs.
                logger.exception("scheduler loop error; retrying in %.1fs", self.poll_seconds)
                timeout = self.poll_seconds
            self.stopping.wait(max(timeout, 0.01))
        self.shutdown()

    def join_running(self, timeout: float) -> list[int]:
        """Wait up to `timeout` s for running jobs; the execution ids still running."""
        with self._lock:
            running = list(self._running.values())
        deadline = time.monotonic() + timeout
        for thread, _ in running:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [execution_id for thread, execution_id in running if thread.is_alive()]

    def is_leading(self) -> bool:
        return time.monotonic() < self._leading_until

    # --- one pass ----------------------------------------------------------------------

    def tick(self) -> float:
        """One pass of the loop; returns how long to sleep before the next."""
        started = time.monotonic()
        if started >= self._next_renew_at or not self.is_leading():
            self._renew(started)
        if not self.is_leading():
            return self.poll_seconds
        now = timezone.now()
        with self._lock:
            running = set(self._running)
        if started >= self._next_housekeeping_at:
            self._housekeeping()
            self._next_housekeeping_at = started + self.poll_seconds
        for claim in due_runs_claim(
            now=now,
            running=running,
            holder=self.holder,
            unreadable_logged=self._unreadable_logged,
        ):
            self._start(claim)
            running.add(claim.job.id)
        if self.is_leading():
            for claim in run_requests_claim(holder=self.holder, now=now, running=running):
                self._start(claim)
        # A fire time this pass left due waits for its job's running instance (coalesce=False)
        # and is looked at again at the next poll: the wake-up is the next one still ahead.
        next_due = DjangoJob.objects.filter(next_run_time__gt=now).aggregate(
            next=Min("next_run_time")
        )["next"]
        timeout = min(self.poll_seconds, self._next_renew_at - time.monotonic())
        if next_due is not None:
            timeout = min(timeout, (next_due - timezone.now()).total_seconds())
        return timeout

    def _renew(self, started: float) -> None:
        if started >= self._next_beat_at:
            instance_beat(holder=self.holder)
            self._next_beat_at = started + self.lease_seconds / 3
        leading = lease_acquire(holder=self.holder, seconds=self.lease_seconds)
        if leading:
            # The lease runs from the DB's view of 'now' at the UPDATE; count from before the
            # call and keep a margin for clock drift between hosts.
            self._leading_until = started + self.lease_seconds * 0.8
            self._next_renew_at = started + self.lease_seconds / 3
            if not self._was_leader:
                self._was_leader = True
                self._on_leadership()
        else:
            self._leading_until = 0.0
            if self._was_leader:
                self._was_leader = False
                logger.error("scheduler %s lost the lease: no longer starting jobs", self.holder)

    def _on_leadership(self) -> None:
        counts = jobs_sync()
        run_requests_orphaned_fail(holder=self.holder)
        instances_prune()
        logger.info("scheduler %s is the leader; jobs synced %s", self.holder, counts)
        self._next_housekeeping_at = 0.0

    def _housekeeping(self) -> None:
        """Once a poll, as leader: close runs whose process is gone (killed, or shut down
        while the database was away), and put back declared jobs missing from the store."""
        with self._lock:
            mine = [execution_id for _, execution_id in self._running.values()]
        executions_orphaned_close(exclude_ids=mine)
        missing = jobs_missing()
        if missing:
            counts = jobs_sync()
            logger.warning(
                "declared job(s) %s were missing from the job store: synced again %s",
                ", ".join(missing),
                counts,
            )

    def _start(self, claim: Claim) -> None:
        with self._lock:
            run = self._job_threads.start(claim.job.id, lambda: self._execute(claim))
            self._running[claim.job.id] = (run, claim.execution_id)

    def _execute(self, claim: Claim) -> None:
        try:
            job_execute(claim=claim)
        except Exception:
            logger.exception("job %s: its run could not be recorded", claim.job.id)
        finally:
            with self._lock:
                self._running.pop(claim.job.id, None)

    # --- shutdown ----------------------------------------------------------------------

    def shutdown(self) -> None:
        with self._lock:
            running = list(self._running.values())
        if running:
            logger.info(
                "stopping: waiting up to %.0fs for %d job(s)", self.grace_seconds, len(running)
            )
        cut_off = self.join_running(self.grace_seconds)
        try:
            if cut_off:
                executions_interrupt(
                    execution_ids=cut_off,
                    reason=f"interrupted: scheduler shut down after {self.grace_seconds:.0f}s",
                )
            lease_release(holder=self.holder)
            instance_forget(holder=self.holder)
        except DatabaseError as exc:
            logger.error("could not record shutdown (lease expires by itself): %s", exc)
        finally:
            self._job_threads.stop()
            connection.close()
        logger.info(
            "scheduler %s stopped (%d run(s) marked interrupted)", self.holder, len(cut_off)
        )
