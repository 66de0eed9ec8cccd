import pytest

from tests.proletto.scheduler_processes import Schedulers


@pytest.fixture
def schedulers(tmp_path):
    """Real `runapscheduler` processes, every one stopped at teardown."""
    group = Schedulers(tmp_path)
    yield group
    group.stop_all()
