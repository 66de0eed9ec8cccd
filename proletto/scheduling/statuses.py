"""The statuses of a run (a DjangoJobExecution row) as the scheduling runtime writes them."""

from django_apscheduler.models import DjangoJobExecution

STARTED = DjangoJobExecution.SENT
EXECUTED = DjangoJobExecution.SUCCESS
FAILED = DjangoJobExecution.ERROR
MISSED = DjangoJobExecution.MISSED
MAX_INSTANCES = DjangoJobExecution.MAX_INSTANCES
INTERRUPTED = "Interrupted"
