"""billing/health.py: Stripe events waiting for a person."""

import datetime as dt

import pytest

from billing import health as checks
from proletto.models import CheckStatus

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
OK, WARNING, FAILING = CheckStatus.OK, CheckStatus.WARNING, CheckStatus.FAILING


def by_name(results):
    return {r.name: r for r in results}


# --- Stripe events ------------------------------------------------------------------------


def stripe_event_row(event_id, state, received_at, outcome=""):
    from billing.models import StripeEvent

    return StripeEvent.objects.create(
        event_id=event_id,
        type="invoice.paid",
        created=received_at,
        received_at=received_at,
        state=state,
        outcome=outcome,
    )


def test_stripe_events_are_ok_when_none_needs_attention():
    stripe_event_row("evt_done", "processed", NOW)
    stripe_event_row("evt_not_ours", "ignored", NOW)
    (result,) = checks.check_stripe_events(NOW)
    assert (result.status, result.value) == (OK, "0")


def test_an_event_needing_attention_is_failing_with_the_oldest_reason():
    stripe_event_row(
        "evt_new", "needs_attention", NOW, "needs attention: Stripe did not answer: timeout"
    )
    stripe_event_row(
        "evt_old",
        "needs_attention",
        NOW - dt.timedelta(hours=3),
        "needs attention: STRIPE_SECRET_KEY is not configured: Stripe cannot be asked",
    )
    (result,) = checks.check_stripe_events(NOW)
    assert (result.status, result.value) == (FAILING, "2")
    assert result.summary == (
        "2 Stripe event(s) need attention since 2026-11-23 09:00 UTC; evt_old: "
        "STRIPE_SECRET_KEY is not configured: Stripe cannot be asked"
    )
