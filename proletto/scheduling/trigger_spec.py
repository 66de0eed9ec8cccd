"""A job's trigger as the job store keeps it: a JSON spec of what the schedule means (kind,
cron fields or interval, zone, start and end), read back into APScheduler's public trigger
classes. No pickled APScheduler Job: its state format is APScheduler's private business."""

import datetime as dt
import json

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from proletto.scheduling.registry import SchedulingError
from proletto.scheduling.triggers import WallClockCronTrigger

_CRON_KINDS = {"cron": CronTrigger, "wallclock_cron": WallClockCronTrigger}


def trigger_spec(trigger: BaseTrigger) -> dict:
    if not isinstance(trigger, IntervalTrigger | CronTrigger):
        raise SchedulingError(
            f"a {type(trigger).__name__} cannot be stored: declare an interval or cron trigger"
        )
    common = {
        "timezone": str(trigger.timezone),
        "start_date": _iso(trigger.start_date),
        "end_date": _iso(trigger.end_date),
        "jitter": trigger.jitter,
    }
    if isinstance(trigger, IntervalTrigger):
        return {"type": "interval", "seconds": trigger.interval.total_seconds(), **common}
    kind = "wallclock_cron" if isinstance(trigger, WallClockCronTrigger) else "cron"
    # Only the fields given: CronTrigger fills in the others as it did the first time.
    fields = {field.name: str(field) for field in trigger.fields if not field.is_default}
    return {"type": kind, "fields": fields, **common}


def trigger_from_spec(spec: dict) -> BaseTrigger:
    common = {
        "timezone": spec["timezone"],
        "start_date": _datetime(spec["start_date"]),
        "end_date": _datetime(spec["end_date"]),
        "jitter": spec["jitter"],
    }
    if spec["type"] == "interval":
        return IntervalTrigger(seconds=spec["seconds"], **common)
    return _CRON_KINDS[spec["type"]](**spec["fields"], **common)


def job_state_dump(trigger: BaseTrigger) -> bytes:
    """What DjangoJob.job_state holds (its next_run_time column holds the rest)."""
    return json.dumps({"trigger": trigger_spec(trigger)}, sort_keys=True).encode()


class UnreadableJobState(SchedulingError):
    """A job store row whose state this code cannot read (corrupt, hand-edited, or written by
    other code): its job is skipped, never the others."""


def stored_trigger(job_id: str, job_state: bytes) -> BaseTrigger:
    """The trigger a job store row holds. Every reader of job_state goes through here (the
    claims, the admin, the sync, the health checks), so a row that cannot be read fails the
    same way everywhere: UnreadableJobState, with the job id and why in one line."""
    try:
        return trigger_from_spec(json.loads(bytes(job_state))["trigger"])
    except Exception as exc:  # any way a corrupt spec fails to parse means the same thing
        why = (str(exc).splitlines() or [""])[0][:200]
        raise UnreadableJobState(
            f"job {job_id!r}: unreadable job state ({type(exc).__name__}: {why})"
        ) from exc


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _datetime(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value is not None else None
