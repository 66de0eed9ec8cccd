"""Cron with a zone follows Vixie cron across daylight-saving changes: a wall-clock time that
occurs twice runs once (its first occurrence), one that does not occur runs once right after
the gap; never zero, never two, whatever instant the scheduler's clock shows."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_apscheduler.models import DjangoJobExecution

from proletto.scheduling import statuses
from proletto.scheduling.claims import due_runs_claim
from proletto.scheduling.jobstore import jobs_sync
from proletto.scheduling.registry import parse_schedule
from proletto.scheduling.triggers import WallClockCronTrigger

UTC = dt.UTC
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

# (zone, the day the clocks change, kind of change)
CHANGES = [
    pytest.param(BERLIN, dt.date(2026, 10, 25), id="EU-back-2026-10-25"),
    pytest.param(BERLIN, dt.date(2026, 3, 29), id="EU-forward-2026-03-29"),
    pytest.param(NEW_YORK, dt.date(2026, 11, 1), id="US-back-2026-11-01"),
    pytest.param(NEW_YORK, dt.date(2026, 3, 8), id="US-forward-2026-03-08"),
]
WALL_TIMES = [pytest.param("30 2 * * *", id="02:30"), pytest.param("30 1 * * *", id="01:30")]


def fire_times(trigger, start, end):
    times, previous, now = [], None, start
    while True:
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None or fire >= end:
            return times
        assert fire >= now and (previous is None or fire > previous), (previous, now, fire)
        times.append(fire)
        previous, now = fire, fire + dt.timedelta(microseconds=1)


def local_day(zone, day):
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone).astimezone(UTC)
    return start, end


@pytest.mark.parametrize("crontab", WALL_TIMES)
@pytest.mark.parametrize(("zone", "day"), CHANGES)
def test_a_daily_local_job_fires_once_on_the_day_the_clocks_change(zone, day, crontab):
    trigger = WallClockCronTrigger.from_crontab(crontab, timezone=zone)
    start, end = local_day(zone, day)
    assert len(fire_times(trigger, start, end)) == 1


def test_a_repeated_wall_time_fires_at_its_first_occurrence():
    trigger = WallClockCronTrigger.from_crontab("30 2 * * *", timezone=BERLIN)
    start, end = local_day(BERLIN, dt.date(2026, 10, 25))
    assert fire_times(trigger, start, end) == [dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]


def test_a_skipped_wall_time_fires_right_after_the_gap():
    trigger = WallClockCronTrigger.from_crontab("30 2 * * *", timezone=BERLIN)
    start, end = local_day(BERLIN, dt.date(2026, 3, 29))
    # 02:00 CET jumps to 03:00 CEST at 01:00 UTC.
    assert fire_times(trigger, start, end) == [dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC)]


def test_a_clock_inside_the_repeated_hour_does_not_fire_the_wall_time_again():
    trigger = WallClockCronTrigger.from_crontab("30 1 * * *", timezone=NEW_YORK)
    # 01:45 EST, the second 01:45 of the day: 01:30 EDT already fired an hour ago.
    now = dt.datetime(2026, 11, 1, 6, 45, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, now) == dt.datetime(2026, 11, 2, 6, 30, tzinfo=UTC)


def test_an_ordinary_day_is_unchanged():
    trigger = WallClockCronTrigger.from_crontab("30 2 * * *", timezone=BERLIN)
    start, end = local_day(BERLIN, dt.date(2026, 7, 1))
    assert fire_times(trigger, start, end) == [dt.datetime(2026, 7, 1, 0, 30, tzinfo=UTC)]


def test_an_override_accepts_a_zone():
    trigger = parse_schedule("cron: 30 2 * * * Europe/Berlin", job_id="x")
    assert isinstance(trigger, WallClockCronTrigger)
    assert str(trigger.timezone) == "Europe/Berlin"


def test_an_override_without_a_zone_is_utc():
    assert str(parse_schedule("cron: 30 2 * * *", job_id="x").timezone) == "UTC"


def test_an_override_with_an_unknown_zone_is_refused_naming_it():
    from proletto.scheduling.registry import SchedulingError

    with pytest.raises(SchedulingError, match="Europe/Berlln"):
        parse_schedule("cron: 30 2 * * * Europe/Berlln", job_id="x")


# --- through the scheduler's own claims, with time-machine ---------------------------------


def _runs_over_the_day(settings, zone, day, crontab, step):
    """Run the leader's claim pass at every `step` over the local day; the runs it starts."""
    settings.SCHEDULE_OVERRIDES = {"hourly": f"cron: {crontab} {zone.key}"}
    start, end = local_day(zone, day)
    with time_machine.travel(start - dt.timedelta(hours=1), tick=False):
        jobs_sync()
    now = start
    started = []
    while now < end:
        with time_machine.travel(now, tick=False):
            for claim in due_runs_claim(now=now, running=set()):
                if claim.job.id == "hourly":  # the other test jobs run on their own grid
                    started.append(claim)
                DjangoJobExecution.objects.filter(pk=claim.execution_id).update(
                    status=statuses.EXECUTED
                )
        now += step
    return started


@pytest.mark.django_db
@pytest.mark.parametrize("crontab", WALL_TIMES)
@pytest.mark.parametrize(("zone", "day"), CHANGES)
def test_the_scheduler_runs_a_local_job_once_with_a_clock_exactly_on_the_fire_times(
    settings, scheduler_jobs_declared, zone, day, crontab
):
    # A pass every 30 minutes on the hour and half hour: the clock lands exactly on every
    # fire time, the first and the repeated one alike.
    started = _runs_over_the_day(settings, zone, day, crontab, dt.timedelta(minutes=30))
    assert [c.job.id for c in started] == ["hourly"]
    assert (
        not DjangoJobExecution.objects.filter(job_id="hourly")
        .exclude(status=statuses.EXECUTED)
        .exists()
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("zone", "day"), CHANGES)
def test_the_scheduler_runs_a_local_job_once_with_a_clock_between_fire_times(
    settings, scheduler_jobs_declared, zone, day
):
    started = _runs_over_the_day(settings, zone, day, "30 2 * * *", dt.timedelta(minutes=7))
    assert len(started) == 1
