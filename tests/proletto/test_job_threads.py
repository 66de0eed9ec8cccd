"""A job's thread serves its runs one after the other; a thread that dies is replaced."""

import pytest

from proletto.scheduling.job_threads import JobThreads

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_job_whose_thread_died_still_runs_its_next_run():
    threads = JobThreads()
    ran = []

    def escapes():
        raise SystemExit  # not an Exception: it ends the thread, not just the run

    try:
        threads.start("hourly", escapes).join(5)
        run = threads.start("hourly", lambda: ran.append("second"))
        run.join(5)
        assert ran == ["second"]
        assert not run.is_alive()
    finally:
        threads.stop(wait=5)


def test_with_no_kept_session_an_idle_thread_waits_without_spinning(settings):
    settings.SCHEDULER_CONNECTION_MAX_AGE_SECONDS = 0
    threads = JobThreads()
    ran = []
    try:
        threads.start("hourly", lambda: ran.append(1)).join(5)
        threads.start("hourly", lambda: ran.append(2)).join(5)
        assert ran == [1, 2]
    finally:
        threads.stop(wait=5)
