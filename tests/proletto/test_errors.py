"""One domain error base: each app's error is a ProlettoError, commands end with its one
line as a CommandError, APIs answer its 4xx as JSON."""

import json

import pytest
from django.core.management.base import CommandError

from billing.exceptions import BillingError
from digests import errors as digest_errors
from digests.errors import ConsentRefused, DigestsError
from outreach.errors import OutboxError
from proletto.errors import ProlettoCommand, ProlettoError, error_response
from proletto.scheduling.registry import SchedulingError


@pytest.mark.parametrize(
    "error, status",
    [
        (OutboxError("bad address"), 400),
        (BillingError("no such plan"), 400),
        (BillingError("bad signature", status=403), 403),
        (DigestsError("no user 'x'"), 422),
        (ConsentRefused("unsubscribed"), 409),
        (SchedulingError("job is paused"), 409),
    ],
)
def test_each_apps_error_is_answered_as_json_with_its_status(error, status):
    assert isinstance(error, ProlettoError)
    response = error_response(error)
    assert response.status_code == status
    assert json.loads(response.content) == {"error": str(error)}


def test_a_rate_limit_says_when_to_come_back():
    response = error_response(
        digest_errors.TestDigestRateLimited("slow down", retry_after_seconds=120)
    )
    assert (response.status_code, response["Retry-After"]) == (429, "120")


def test_a_command_ends_with_the_errors_one_line():
    class Command(ProlettoCommand):
        def handle(self, *args, **options):
            raise DigestsError("no source named 'Nope' (known: none)")

    with pytest.raises(CommandError, match=r"^no source named 'Nope' \(known: none\)$") as caught:
        Command().execute(no_color=True, force_color=False, skip_checks=True)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
