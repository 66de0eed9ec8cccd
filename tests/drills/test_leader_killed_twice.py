"""Drill 1: three `runapscheduler` processes; the leader is killed with kill -9, then the new
leader too. Every fire time of a per-second job runs exactly once; failover times are recorded
(test-artifacts/drills.json)."""

import signal
import time

import pytest

from tests.drills.scheduler_drill import (
    assert_every_tick_ran_once,
    leader,
    record_figures,
    tick_rows,
    wait_for_more_ticks,
)
from tests.proletto.scheduler_processes import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LEASE_SECONDS = 4


def kill_leader(processes, holder: str) -> tuple[float, str]:
    """kill -9 the lease holder; (seconds until another process holds the lease, its name)."""
    processes[int(holder.split(":")[1])].send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    successor = wait_for(
        lambda: leader() not in (None, holder) and leader(), timeout=30, what="a new leader"
    )
    return time.monotonic() - killed_at, successor


def test_every_fire_time_runs_once_across_two_leader_kills(schedulers):
    env = {"TICK_SECONDS": 1, "TICK_COALESCE": "false", "SCHEDULER_LEASE_SECONDS": LEASE_SECONDS}
    processes = {p.pid: p for p in (schedulers.start(**env) for _ in range(3))}
    holder = wait_for(leader, timeout=30, what="a leader")

    failovers = []
    for _ in range(2):
        wait_for_more_ticks(3)
        seconds, holder = kill_leader(processes, holder)
        failovers.append(round(seconds, 2))
    # The new leader catches up on the fire times of the failover, then keeps the pace.
    wait_for_more_ticks(8, timeout=60, what="ticks after failovers")
    codes = schedulers.stop_all()

    assert sorted(codes) == [-signal.SIGKILL, -signal.SIGKILL, 0]
    assert_every_tick_ran_once(schedulers)
    # A standby takes over once the dead leader's lease expires, plus at most a poll or two.
    assert all(seconds < LEASE_SECONDS + 5 for seconds in failovers), failovers
    record_figures(
        "leader_killed_twice",
        {
            "failover_seconds": failovers,
            "lease_seconds": LEASE_SECONDS,
            "fire_times": len(tick_rows()),
        },
    )
