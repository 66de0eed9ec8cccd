import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from proletto.scheduling.registry import schedule_problems
from proletto.scheduling.runtime import SchedulerProcess

logger = logging.getLogger("proletto.scheduling")


class Command(BaseCommand):
    help = (
        "Run the scheduler: any number may run; one leads and runs the jobs, the others stand "
        "by. SIGTERM/SIGINT stop it cleanly (exit 0)."
    )

    def handle(self, *args, **options):
        if not settings.ENABLE_SCHEDULER:
            logger.warning("the scheduler is disabled (ENABLE_SCHEDULER=false); exiting")
            self.stdout.write("scheduler disabled (ENABLE_SCHEDULER=false)")
            return
        problems = schedule_problems()
        if problems:
            raise CommandError("; ".join(problems))
        process = SchedulerProcess()
        signal.signal(signal.SIGTERM, process.request_stop)
        signal.signal(signal.SIGINT, process.request_stop)
        process.run()
