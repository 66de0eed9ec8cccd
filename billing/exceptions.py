class BillingError(Exception):
    """Bad input or a refused change in billing. The message is one line: commands show it as a
    CommandError, views answer it as JSON with `status`."""

    def __init__(self, message: str, *, status: int = 400):
        super().__init__(message)
        self.status = status
