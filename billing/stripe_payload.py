"""Reading Stripe's JSON defensively: a malformed payload is answered with a 400 (BillingError),
never a KeyError or a 500."""

import datetime as dt

from billing.exceptions import BillingError


def dig(value, *path):
    """value[path[0]][path[1]]..., or None where a level is missing or not an object."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def stripe_id(value) -> str | None:
    """An id, whether Stripe sent it as a string or as an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def timestamp(value: int) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(value, dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise BillingError(f"not a Unix timestamp: {value}") from None
