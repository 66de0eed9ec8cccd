import datetime as dt

import pytest
import time_machine

from proletto.models import SchedulerLease
from proletto.scheduling.leadership import lease_acquire, lease_release
from proletto.scheduling.selectors import scheduler_status
from tests.proletto.lease_time import lease_ages

pytestmark = pytest.mark.django_db


def test_the_first_process_takes_the_lease():
    assert lease_acquire(holder="a", seconds=15)
    assert SchedulerLease.objects.get().holder == "a"


def test_a_second_process_cannot_take_a_live_lease():
    lease_acquire(holder="a", seconds=15)
    lease_ages(10)
    assert not lease_acquire(holder="b", seconds=15)


def test_the_holder_renews_its_lease():
    lease_acquire(holder="a", seconds=15)
    lease_ages(10)
    assert lease_acquire(holder="a", seconds=15)
    lease_ages(10)
    assert not lease_acquire(holder="b", seconds=15)


def test_a_standby_takes_over_an_expired_lease():
    lease_acquire(holder="a", seconds=15)
    lease_ages(16)
    assert lease_acquire(holder="b", seconds=15)
    lease_ages(1)
    assert not lease_acquire(holder="a", seconds=15)


def test_a_released_lease_can_be_taken_at_once():
    lease_acquire(holder="a", seconds=15)
    lease_release(holder="a")
    assert lease_acquire(holder="b", seconds=15)


def test_the_lease_is_judged_on_the_databases_clock_not_the_hosts():
    # A host whose clock runs 10 minutes ahead must not see a live lease as expired.
    lease_acquire(holder="a", seconds=15)
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10), tick=False):
        assert not lease_acquire(holder="b", seconds=15)
        assert scheduler_status()["alive"]


def test_status_is_alive_with_a_fresh_heartbeat():
    lease_acquire(holder="a", seconds=15)
    lease_ages(5)
    status = scheduler_status()
    assert status["alive"] and status["leader"] == "a"
    assert 5 <= status["heartbeat_age_seconds"] < 6


def test_status_is_dead_when_the_lease_expired():
    lease_acquire(holder="a", seconds=15)
    lease_ages(30)
    assert not scheduler_status()["alive"]
