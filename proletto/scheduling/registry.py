"""The job registry: every app declares its scheduled jobs in `<app>/jobs.py` as

    JOBS = [
        ScheduledJob(
            id="scrape_opportunities",
            func=scrape_opportunities,
            trigger=IntervalTrigger(hours=6),
            description="Fetch enabled sources and upsert opportunities.",
        ),
    ]

`runapscheduler` discovers them with `declared_jobs()`. A job function takes no arguments and
returns a dict of counts (or None); the runtime logs it on the job's one summary line.
"""

import enum
import importlib
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.triggers.base import BaseTrigger
from django.apps import apps


class MissedRunPolicy(enum.StrEnum):
    # A fire time that passed while no scheduler ran: run the job once on start...
    RUN_ONCE = "run_once"
    # ...or record the missed run in the history and wait for the next fire time.
    SKIP = "skip"


@dataclass(frozen=True)
class ScheduledJob:
    id: str
    func: Callable[[], dict | None]
    trigger: BaseTrigger
    description: str
    misfire_grace_time: int = 300
    coalesce: bool = True
    missed_run_policy: MissedRunPolicy = MissedRunPolicy.RUN_ONCE

    @property
    def func_ref(self) -> str:
        return f"{self.func.__module__}:{self.func.__qualname__}"


class DuplicateJobId(Exception):
    pass


def declared_jobs() -> dict[str, ScheduledJob]:
    """Every job declared by an installed app's jobs.py, by id."""
    jobs: dict[str, ScheduledJob] = {}
    for app_config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{app_config.name}.jobs")
        except ModuleNotFoundError as exc:
            if exc.name != f"{app_config.name}.jobs":
                raise
            continue
        for job in getattr(module, "JOBS", []):
            if job.id in jobs:
                raise DuplicateJobId(f"job id {job.id!r} is declared twice")
            jobs[job.id] = job
    return jobs
