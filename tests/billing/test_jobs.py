import datetime as dt
import zoneinfo

from billing.jobs import reset_monthly_credits
from proletto.scheduling.registry import declared_jobs


def test_reset_monthly_credits_is_declared_daily_at_2_in_the_time_zone(settings):
    job = declared_jobs()["reset_monthly_credits"]
    assert job.func is reset_monthly_credits
    assert job.func_ref == "billing.jobs:reset_monthly_credits"
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    after = dt.datetime(2026, 3, 1, 12, tzinfo=zone)
    assert job.trigger.get_next_fire_time(None, after) == dt.datetime(2026, 3, 2, 2, tzinfo=zone)


def test_the_job_returns_counts(db):
    assert reset_monthly_credits() == {"reset": 0, "caught_up": 0, "skipped": 0}
