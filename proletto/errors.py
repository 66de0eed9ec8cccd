"""The one base of Proletto's domain errors: bad input or a refused change, said in one line
for a person to act on. Each app subclasses it (outreach.errors.OutboxError,
digests.errors.DigestsError, billing.exceptions.BillingError,
proletto.scheduling.registry.SchedulingError); commands turn it into a CommandError
(ProlettoCommand) and APIs into a 4xx JSON answer (error_response)."""

from django.core.management.base import BaseCommand, CommandError
from django.http import JsonResponse


class ProlettoError(Exception):
    # The HTTP status an API answers with; subclasses and raisers say which 4xx fits.
    status = 400

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status

    @property
    def headers(self) -> dict[str, str]:
        """Headers an API adds to its answer (Retry-After for a rate limit)."""
        return {}


def error_response(exc: ProlettoError) -> JsonResponse:
    response = JsonResponse({"error": str(exc)}, status=exc.status)
    for name, value in exc.headers.items():
        response[name] = value
    return response


class ProlettoCommand(BaseCommand):
    """A management command whose domain errors end it with their one line (no traceback)."""

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except ProlettoError as exc:
            raise CommandError(str(exc)) from None
