class OutboxError(Exception):
    """Bad input to an outreach service; the message says what is wrong, in one line."""
