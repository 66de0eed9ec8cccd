"""A real `runapscheduler` process keeps its job threads' database sessions between runs."""

import pytest
from django_apscheduler.models import DjangoJobExecution

from proletto.scheduling.statuses import EXECUTED
from tests.proletto.scheduler_processes import Schedulers, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def schedulers(tmp_path):
    group = Schedulers(tmp_path)
    yield group
    group.stop_all()


def test_a_per_second_job_runs_on_one_database_session(schedulers, tmp_path):
    sessions = tmp_path / "sessions.log"
    sessions.touch()
    schedulers.start(SESSION_PROBE_SECONDS=1, SESSION_LOG=sessions, TICK_SECONDS=3600)
    wait_for(
        lambda: (
            DjangoJobExecution.objects.filter(job_id="session_probe", status=EXECUTED).count() >= 6
        ),
        timeout=60,
        what="6 runs of the per-second job",
    )
    assert schedulers.stop_all() == [0]
    backend_pids = sessions.read_text().split()
    assert len(backend_pids) >= 6
    assert len(set(backend_pids)) == 1, schedulers.logs()
