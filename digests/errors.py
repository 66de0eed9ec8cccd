from proletto.errors import ProlettoError


class DigestsError(ProlettoError):
    """Bad input to a digests service; the message is one line for a person to act on."""

    status = 422


class ConsentRefused(DigestsError):
    """The recipient is suppressed or unsubscribed: the email would never be sent (409)."""

    status = 409


class TestDigestRateLimited(DigestsError):
    """A staff user asked for more test digests than TEST_DIGEST_LIMIT_PER_HOUR allows."""

    status = 429

    def __init__(self, message: str, *, retry_after_seconds: int):
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}
