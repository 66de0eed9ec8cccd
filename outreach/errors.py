"""The outreach app's domain error: bad input to a service, in one line."""

from proletto.errors import ProlettoError


class OutboxError(ProlettoError):
    """Bad input to an outreach service; the message says what is wrong, in one line."""
