"""What drills 1 and 4 share: a fire-time ledger for the `tick` job and the figures file."""

import datetime as dt
import json

from django_apscheduler.models import DjangoJobExecution

from proletto.models import SchedulerLease
from proletto.scheduling.leadership import LEASE_NAME
from proletto.scheduling.statuses import EXECUTED, INTERRUPTED
from tests.conftest import ARTIFACTS
from tests.proletto.scheduler_processes import wait_for

FIGURES = ARTIFACTS / "drills.json"


def leader() -> str | None:
    lease = SchedulerLease.objects.filter(name=LEASE_NAME).first()
    return lease.holder if lease and lease.holder else None


def tick_rows() -> list[tuple[dt.datetime, str]]:
    rows = DjangoJobExecution.objects.filter(job_id="tick").order_by("run_time")
    return list(rows.values_list("run_time", "status"))


def executed_ticks() -> int:
    return DjangoJobExecution.objects.filter(job_id="tick", status=EXECUTED).count()


def wait_for_more_ticks(count: int, *, timeout: float = 30, what: str = "") -> None:
    """Wait until `count` more runs of `tick` have executed than have now."""
    before = executed_ticks()
    what = what or f"{count} more ticks"
    wait_for(lambda: executed_ticks() >= before + count, timeout=timeout, what=what)


def assert_every_tick_ran_once(schedulers) -> None:
    """The per-second `tick` of these schedulers ran each fire time once (see below)."""
    assert_every_fire_time_ran_once(
        tick_rows(), interval=dt.timedelta(seconds=1), invocations=len(schedulers.ticks())
    )


def assert_every_fire_time_ran_once(rows, *, interval: dt.timedelta, invocations: int) -> None:
    """Every fire time from the first to the last has one row and it ran: none skipped,
    coalesced or missed, and the job was invoked no more often than fire times were claimed."""
    times = [run_time for run_time, _ in rows]
    gaps = {b - a for a, b in zip(times, times[1:], strict=False)}
    assert gaps == {interval}, f"fire times skipped or doubled: {sorted(gaps)}"
    statuses = {status for _, status in rows}
    # A run cut off by kill -9 is marked interrupted by the next leader; nothing else.
    assert statuses <= {EXECUTED, INTERRUPTED}, statuses
    executed = sum(status == EXECUTED for _, status in rows)
    interrupted = len(rows) - executed
    assert executed <= invocations <= executed + interrupted


def record_figures(drill: str, figures: dict) -> None:
    """Keep the drill's measured figures (failover and recovery times) for the README."""
    ARTIFACTS.mkdir(exist_ok=True)
    recorded = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    recorded[drill] = figures
    FIGURES.write_text(json.dumps(recorded, indent=2, sort_keys=True))
    print(f"\n{drill}: {figures}")
