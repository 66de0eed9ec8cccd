from proletto.errors import ProlettoError


class BillingError(ProlettoError):
    """Bad input or a refused change in billing. The message is one line: commands show it as a
    CommandError, views answer it as JSON with `status` (400 unless the raiser says)."""
