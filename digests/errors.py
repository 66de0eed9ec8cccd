class DigestsError(Exception):
    """Bad input to a digests service; the message is one line for a person to act on."""


class ConsentRefused(DigestsError):
    """The recipient is suppressed or unsubscribed: the email would never be sent (409)."""
