from django.core.management.base import BaseCommand, CommandError

from proletto.scheduling.execution import job_run_here
from proletto.scheduling.registry import SchedulingError
from proletto.scheduling.statuses import EXECUTED


class Command(BaseCommand):
    help = "Run one scheduled job now in this process; the run is recorded in the job history."

    def add_arguments(self, parser):
        parser.add_argument("job_id")

    def handle(self, *args, job_id, **options):
        try:
            execution_id, status = job_run_here(job_id=job_id)
        except SchedulingError as exc:
            raise CommandError(str(exc)) from None
        if status != EXECUTED:
            raise CommandError(
                f"job {job_id} failed (execution {execution_id}; see the admin history)"
            )
        self.stdout.write(self.style.SUCCESS(f"job {job_id} ran (execution {execution_id})"))
