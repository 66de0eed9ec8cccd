"""Health check of the Stripe events waiting for a person (discovered by
proletto.monitoring.checks)."""

from billing.selectors import stripe_events_needing_attention
from proletto.monitoring.results import FAILING, OK, CheckResult


def check_stripe_events(now) -> list[CheckResult]:
    """Stripe events that could not be applied (credits maybe not granted) wait for a person:
    the admin's "Process again" once the cause is fixed."""
    waiting = stripe_events_needing_attention()
    if not waiting["count"]:
        return [CheckResult("stripe events", OK, "0", "no Stripe event needs attention")]
    oldest = waiting["oldest_event"]
    return [
        CheckResult(
            "stripe events",
            FAILING,
            str(waiting["count"]),
            f"{waiting['count']} Stripe event(s) need attention since "
            f"{waiting['oldest']:%Y-%m-%d %H:%M} UTC; {oldest['event_id']}: "
            f"{oldest['outcome'].removeprefix('needs attention: ')}"[:300],
        )
    ]


CHECKS = [check_stripe_events]
