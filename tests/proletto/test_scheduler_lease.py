import datetime as dt

import pytest
import time_machine

from proletto.models import SchedulerLease
from proletto.scheduling.leadership import lease_acquire, lease_release
from proletto.scheduling.selectors import scheduler_status

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def travel(seconds):
    return time_machine.travel(T0 + dt.timedelta(seconds=seconds), tick=False)


def test_the_first_process_takes_the_lease():
    with travel(0):
        assert lease_acquire(holder="a", seconds=15)
    assert SchedulerLease.objects.get().holder == "a"


def test_a_second_process_cannot_take_a_live_lease():
    with travel(0):
        lease_acquire(holder="a", seconds=15)
    with travel(10):
        assert not lease_acquire(holder="b", seconds=15)


def test_the_holder_renews_its_lease():
    with travel(0):
        lease_acquire(holder="a", seconds=15)
    with travel(10):
        assert lease_acquire(holder="a", seconds=15)
    with travel(20):
        assert not lease_acquire(holder="b", seconds=15)


def test_a_standby_takes_over_an_expired_lease():
    with travel(0):
        lease_acquire(holder="a", seconds=15)
    with travel(16):
        assert lease_acquire(holder="b", seconds=15)
    with travel(17):
        assert not lease_acquire(holder="a", seconds=15)


def test_a_released_lease_can_be_taken_at_once():
    with travel(0):
        lease_acquire(holder="a", seconds=15)
        lease_release(holder="a")
        assert lease_acquire(holder="b", seconds=15)


def test_status_is_alive_with_a_fresh_heartbeat():
    with travel(0):
        lease_acquire(holder="a", seconds=15)
    with travel(5):
        status = scheduler_status()
    assert status["alive"] and status["leader"] == "a"
    assert status["heartbeat_age_seconds"] == 5


def test_status_is_dead_when_the_lease_expired():
    with travel(0):
        lease_acquire(holder="a", seconds=15)
    with travel(30):
        assert not scheduler_status()["alive"]
