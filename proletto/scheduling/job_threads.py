"""One long-lived thread per job, so that a job's runs share one database session.

Django gives each thread its own connection: a thread started for every run opened a new
database session for every run (67 a minute with a per-second job). Here each job id keeps
a thread that waits for its next run, and that thread's connection is kept between runs
the way Django keeps a web worker's between requests: CONN_MAX_AGE (here
SCHEDULER_CONNECTION_MAX_AGE_SECONDS) and CONN_HEALTH_CHECKS, applied by the
close_old_connections() that job_execute calls before and after every run. A session the
database ended while the job slept fails the health check at the next run's first query and
is replaced before the job sees it; one that broke during a run is closed after it. A thread
idle for the max age closes its session, so rare jobs hold none.
"""

import logging
import queue
import threading

from django.conf import settings
from django.db import connections
from django.db.utils import load_backend

logger = logging.getLogger("proletto.scheduling")
_STOP = object()


class JobRun:
    """A run handed to a job's thread: join() and is_alive() as for a thread of its own."""

    def __init__(self, work):
        self.work = work
        self._done = threading.Event()

    def join(self, timeout: float | None = None) -> None:
        self._done.wait(timeout)

    def is_alive(self) -> bool:
        return not self._done.is_set()


class JobThreads:
    """`start(job_id, work)` runs `work()` in that job's thread; the caller starts a job's
    next run only after the last has ended (max_instances=1). stop() lets each thread finish
    its run, close its connections and exit."""

    def __init__(self):
        self._lock = threading.Lock()
        self._threads: dict[str, tuple[queue.SimpleQueue, threading.Thread]] = {}

    def start(self, job_id: str, work) -> JobRun:
        run = JobRun(work)
        with self._lock:
            # A thread that died (something escaped its run) is replaced, or the job's runs
            # would wait in a queue nobody reads.
            if job_id not in self._threads or not self._threads[job_id][1].is_alive():
                runs = queue.SimpleQueue()
                thread = threading.Thread(
                    target=_serve,
                    args=(runs,),
                    name=f"job-{job_id}",
                    daemon=True,  # a run still going after the shutdown grace does not hold exit
                )
                thread.start()
                self._threads[job_id] = (runs, thread)
            self._threads[job_id][0].put(run)
        return run

    def stop(self, *, wait: float = 0.0) -> None:
        """Tell every thread to exit after its run; wait up to `wait` s for them to be gone."""
        with self._lock:
            threads, self._threads = list(self._threads.values()), {}
        for runs, _ in threads:
            runs.put(_STOP)
        for _, thread in threads:
            thread.join(wait)


def _serve(runs: queue.SimpleQueue) -> None:
    max_age = settings.SCHEDULER_CONNECTION_MAX_AGE_SECONDS
    _keep_connections(max_age)
    try:
        while True:
            try:
                # A max age of 0 keeps no session: wait for the next run without a timeout
                # (a timeout of 0 would spin).
                run = runs.get(timeout=max_age if max_age > 0 else None)
            except queue.Empty:
                connections.close_all()  # idle a whole max age: hold no session
                continue
            if run is _STOP:
                return
            try:
                run.work()
            except BaseException:
                # The thread serves the job's next runs whatever this one did (a SystemExit
                # raised by job code would otherwise end the thread, and with it the job).
                logger.exception("%s: a run raised", threading.current_thread().name)
            finally:
                run._done.set()
    finally:
        connections.close_all()


def _keep_connections(max_age: float) -> None:
    """This thread's connections, kept up to `max_age` seconds and checked before reuse."""
    for alias in connections:
        kept = {**connections.settings[alias], "CONN_MAX_AGE": max_age, "CONN_HEALTH_CHECKS": True}
        connections[alias] = load_backend(kept["ENGINE"]).DatabaseWrapper(kept, alias)
