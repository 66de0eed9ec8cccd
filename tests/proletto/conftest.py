import pytest

from proletto.scheduling.leadership import lease_acquire
from tests.proletto import scheduler_jobs


@pytest.fixture
def scheduler_jobs_declared(settings):
    """Declare only the test jobs of tests/proletto/scheduler_jobs.py, with no overrides."""
    settings.SCHEDULER_JOB_MODULES = ["tests.proletto.scheduler_jobs"]
    settings.SCHEDULE_OVERRIDES = {}
    scheduler_jobs.CALLS.clear()
    return scheduler_jobs


@pytest.fixture
def live_leader(db):
    """A fresh lease and heartbeat, as a running leader writes them."""
    assert lease_acquire(holder="test-leader", seconds=60)
    return "test-leader"


@pytest.fixture(autouse=True)
def job_threads_ended(monkeypatch):
    """A scheduler's job threads keep their database sessions between runs; the schedulers a
    test makes in this process end theirs with the test (the test database is dropped at the
    end only if no session is left on it)."""
    from proletto.scheduling import job_threads, runtime

    made = []

    class EndedWithTheTest(job_threads.JobThreads):
        def __init__(self):
            super().__init__()
            made.append(self)

    monkeypatch.setattr(runtime, "JobThreads", EndedWithTheTest)
    yield
    for threads in made:
        threads.stop(wait=10)
