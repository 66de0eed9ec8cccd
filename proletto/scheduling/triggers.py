"""Cron in a time zone with Vixie cron's daylight-saving semantics.

APScheduler's CronTrigger maps a wall-clock time to an instant as the zone does at that
moment: a daily 02:30 Europe/Berlin fires twice on the day the clocks go back (02:30 CEST
and 02:30 CET), and a clock inside the repeated hour is answered with a fire time behind it.
WallClockCronTrigger matches the crontab on wall-clock time alone and then maps each match to
one instant:

- a wall time that occurs twice is its first occurrence (the second is skipped);
- a wall time that does not occur (inside the spring-forward gap) is the instant the gap ends,
  so the job runs once, right after the jump;

so each matching wall time fires exactly once, never zero and never two, as with Vixie cron.
"""

import datetime as dt

from apscheduler.triggers.cron import CronTrigger

# Larger than any UTC offset change a zone has made in one step (2 h: Antarctica/Troll).
_LOOKBACK = dt.timedelta(hours=3)
_TICK = dt.timedelta(microseconds=1)
_UTC = dt.UTC


def wall_time_instant(wall: dt.datetime, zone) -> dt.datetime:
    """The one instant (UTC) a naive wall-clock time in `zone` stands for, as Vixie cron."""
    first = wall.replace(tzinfo=zone, fold=0)
    instant = first.astimezone(_UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant  # exists (at fold=0 it is the first of two if it is repeated)
    # In the gap: read with the offset before the change (fold=0) it lands past the change,
    # with the offset after it (fold=1) before; the change itself is between, on a second.
    before = wall.replace(tzinfo=zone, fold=1).astimezone(_UTC)
    after = instant
    while after - before > dt.timedelta(seconds=1):
        middle = before + (after - before) / 2
        if middle.astimezone(zone).utcoffset() == after.astimezone(zone).utcoffset():
            after = middle
        else:
            before = middle
    return after.replace(microsecond=0)


def fire_times_due(trigger, first: dt.datetime, now: dt.datetime) -> list[dt.datetime]:
    """The fire times from `first` up to `now`, each the trigger's next after the one before
    (APScheduler's public get_next_fire_time; what its private Job._get_run_times does)."""
    times = []
    fire = first
    while fire is not None and fire <= now:
        times.append(fire)
        fire = trigger.get_next_fire_time(fire, now)
    return times


class WallClockCronTrigger(CronTrigger):
    __slots__ = ()

    def _wall_clock_matcher(self) -> CronTrigger:
        # The same fields reading naive wall time as if it were UTC (which has no changes).
        state = {**self.__getstate__(), "timezone": _UTC, "start_date": None, "end_date": None}
        matcher = CronTrigger.__new__(CronTrigger)
        matcher.__setstate__({**state, "jitter": None})
        return matcher

    def get_next_fire_time(self, previous_fire_time, now):
        if previous_fire_time:
            start = previous_fire_time + _TICK  # strictly after: fire_times_due loops on it
        else:
            start = max(now, self.start_date) if self.start_date else now
        matcher = self._wall_clock_matcher()
        wall_start = start.astimezone(self.timezone).replace(tzinfo=None) - _LOOKBACK
        match = matcher.get_next_fire_time(None, wall_start.replace(tzinfo=_UTC))
        while match is not None:
            wall = match.replace(tzinfo=None)
            instant = wall_time_instant(wall, self.timezone)
            if instant >= start:
                if self.end_date and instant > self.end_date:
                    return None
                # In UTC: an aware time inside a repeated hour compares unequal to every
                # time in another zone (PEP 495), even the same instant.
                return instant
            match = matcher.get_next_fire_time(None, match + _TICK)
        return None

    def __str__(self):
        return super().__str__().replace("cron[", "wallclock_cron[", 1)
