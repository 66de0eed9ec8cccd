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
