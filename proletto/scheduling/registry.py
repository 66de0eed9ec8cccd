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

A schedule can be overridden without code changes with SCHEDULE_<JOB_ID>="cron: 0 8 * * mon"
(UTC), "cron: 30 2 * * * Europe/Berlin"
or "interval: 15m" (see `parse_schedule`); `effective_trigger()` applies it.
"""

import datetime as dt
import enum
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from django.conf import settings

from proletto.discovery import app_modules
from proletto.errors import ProlettoError
from proletto.scheduling.triggers import WallClockCronTrigger


class SchedulingError(ProlettoError):
    """A scheduling request that cannot be honoured; the message is shown to the user as is."""

    status = 409


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


class DuplicateJobId(SchedulingError):
    pass


def declared_jobs() -> dict[str, ScheduledJob]:
    """Every declared job, by id (the installed apps' jobs.py, or SCHEDULER_JOB_MODULES)."""
    jobs: dict[str, ScheduledJob] = {}
    explicit = getattr(settings, "SCHEDULER_JOB_MODULES", None)
    for module in app_modules("jobs", explicit=explicit):
        for job in getattr(module, "JOBS", []):
            if job.id in jobs:
                raise DuplicateJobId(f"job id {job.id!r} is declared twice")
            jobs[job.id] = job
    return jobs


_INTERVAL_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_INTERVAL_PART = re.compile(r"(\d+)\s*([smhdw])")


def parse_schedule(value: str, *, job_id: str) -> BaseTrigger:
    """'cron: <5 crontab fields> [IANA zone]' (UTC when no zone is named) or 'interval: 1h30m'
    -> a trigger; SchedulingError else. Cron in a zone follows Vixie cron across daylight-saving
    changes (see triggers.WallClockCronTrigger)."""
    kind, sep, spec = value.partition(":")
    kind, spec = kind.strip().lower(), spec.strip()
    if not sep or not spec:
        raise SchedulingError(
            f"schedule override for job {job_id!r} is {value!r}: "
            "expected 'cron: <m h dom mon dow> [zone]' or 'interval: <e.g. 15m, 6h, 1h30m>'"
        )
    if kind == "cron":
        fields = spec.split()
        zone = dt.UTC
        if len(fields) == 6:
            try:
                zone = zoneinfo.ZoneInfo(fields[-1])
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise SchedulingError(
                    f"schedule override for job {job_id!r}: unknown time zone {fields[-1]!r} "
                    "(use an IANA name such as Europe/Berlin)"
                ) from None
            spec = " ".join(fields[:5])
        try:
            return WallClockCronTrigger.from_crontab(spec, timezone=zone)
        except ValueError as exc:
            raise SchedulingError(
                f"schedule override for job {job_id!r}: bad cron expression {spec!r} ({exc})"
            ) from None
    if kind == "interval":
        compact = spec.replace(" ", "").lower()
        parts = _INTERVAL_PART.findall(compact)
        if not parts or "".join(n + u for n, u in parts) != compact:
            raise SchedulingError(
                f"schedule override for job {job_id!r}: bad interval {spec!r} "
                "(use e.g. 30s, 15m, 6h, 1d, 1h30m)"
            )
        amounts: dict[str, int] = {}
        for number, unit in parts:
            amounts[_INTERVAL_UNITS[unit]] = amounts.get(_INTERVAL_UNITS[unit], 0) + int(number)
        if sum(amounts.values()) == 0:
            raise SchedulingError(f"schedule override for job {job_id!r}: interval is zero")
        return IntervalTrigger(**amounts, timezone=dt.UTC)
    raise SchedulingError(
        f"schedule override for job {job_id!r} is {value!r}: kind must be 'cron' or 'interval'"
    )


def effective_trigger(job: ScheduledJob) -> BaseTrigger:
    override = settings.SCHEDULE_OVERRIDES.get(job.id)
    return parse_schedule(override, job_id=job.id) if override else job.trigger


def schedule_problems() -> list[str]:
    """One message per invalid override or override naming no declared job."""
    try:
        jobs = declared_jobs()
    except SchedulingError as exc:
        return [str(exc)]
    problems = []
    for job_id, value in settings.SCHEDULE_OVERRIDES.items():
        if job_id not in jobs:
            problems.append(
                f"SCHEDULE_{job_id.upper()} overrides an unknown job {job_id!r} "
                f"(known: {', '.join(sorted(jobs)) or 'none'})"
            )
            continue
        try:
            parse_schedule(value, job_id=job_id)
        except SchedulingError as exc:
            problems.append(str(exc))
    return problems


def describe_trigger(trigger: BaseTrigger) -> str:
    """A human-readable schedule: 'every 6 h', 'cron 0 8 * * mon (UTC)'."""
    if isinstance(trigger, IntervalTrigger):
        seconds = int(trigger.interval.total_seconds())
        for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
            if seconds % size == 0:
                return f"every {seconds // size} {unit}"
        return f"every {seconds} s"
    if isinstance(trigger, CronTrigger):
        fields = {f.name: str(f) for f in trigger.fields}
        crontab = " ".join(
            fields[name] for name in ("minute", "hour", "day", "month", "day_of_week")
        )
        return f"cron {crontab} ({trigger.timezone})"
    return str(trigger)
