class DigestsError(Exception):
    """Bad input to a digests service; the message is one line for a person to act on."""
