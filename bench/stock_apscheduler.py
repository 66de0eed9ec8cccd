"""The stock django-apscheduler recipe, as its README gives it, for bench/scheduler.py's
sessions-per-minute baseline: a BlockingScheduler with the DjangoJobStore and one job
decorated with @util.close_old_connections, here every second and one query a run, like
bench_tick. Run with DJANGO_SETTINGS_MODULE and DATABASE_URL set; BENCH_CONNECT_LOG logs
its connections (bench/scheduler_jobs.py). SIGTERM stops it."""

import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django  # noqa: E402

django.setup()

from apscheduler.schedulers.blocking import BlockingScheduler  # noqa: E402
from apscheduler.triggers.interval import IntervalTrigger  # noqa: E402
from django.conf import settings  # noqa: E402
from django_apscheduler import util  # noqa: E402
from django_apscheduler.jobstores import DjangoJobStore  # noqa: E402
from django_apscheduler.models import DjangoJobExecution  # noqa: E402

# Imported for what it does with BENCH_CONNECT_LOG set: log this process's connections.
import bench.scheduler_jobs  # noqa: E402,F401


@util.close_old_connections
def stock_tick():
    DjangoJobExecution.objects.filter(job_id="stock_tick").exists()


def main() -> None:
    scheduler = BlockingScheduler(timezone=settings.TIME_ZONE)
    scheduler.add_jobstore(DjangoJobStore(), "default")
    scheduler.add_job(
        stock_tick,
        trigger=IntervalTrigger(seconds=1),
        id="stock_tick",
        max_instances=1,
        replace_existing=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    scheduler.start()


if __name__ == "__main__":
    main()
