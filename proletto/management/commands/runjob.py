from django.core.management.base import BaseCommand, CommandError

from proletto.scheduling.execution import job_run_here
from proletto.scheduling.registry import SchedulingError
from proletto.scheduling.statuses import EXECUTED


class Command(BaseCommand):
    help = (
        "Run one scheduled job now in this process; the run is recorded in the job history. "
        "Prints one line: the outcome, duration, execution id and the job's counts."
    )

    def add_arguments(self, parser):
        parser.add_argument("job_id")

    def handle(self, *args, job_id, **options):
        try:
            outcome = job_run_here(job_id=job_id)
        except SchedulingError as exc:
            raise CommandError(str(exc)) from None
        if outcome.status != EXECUTED:
            raise CommandError(f"{outcome.summary()} (see the admin history)")
        self.stdout.write(self.style.SUCCESS(outcome.summary()))
