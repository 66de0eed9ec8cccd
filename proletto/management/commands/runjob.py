from django.core.management.base import CommandError

from proletto.errors import ProlettoCommand
from proletto.scheduling.execution import job_run_here
from proletto.scheduling.statuses import EXECUTED


class Command(ProlettoCommand):
    help = (
        "Run one scheduled job now in this process; the run is recorded in the job history. "
        "Prints one line: the outcome, duration, execution id and the job's counts."
    )

    def add_arguments(self, parser):
        parser.add_argument("job_id")

    def handle(self, *args, job_id, **options):
        outcome = job_run_here(job_id=job_id)
        if outcome.status != EXECUTED:
            raise CommandError(f"{outcome.summary()} (see the admin history)")
        self.stdout.write(self.style.SUCCESS(outcome.summary()))
