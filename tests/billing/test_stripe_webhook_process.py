"""The webhook as Stripe meets it: a real gunicorn with two workers on PostgreSQL, signed
events posted over HTTP, each delivered several times at once. Two cycles of invoices whose
first line is a one-off item (the second cycle's item older than the first's) grant both
months exactly once, and next_credit_reset_at never moves into the past."""

import datetime as dt
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.utils import timezone

from billing.models import CreditLedgerEntry, StripeEvent, Subscription
from billing.testing.fake_stripe import FakeStripe, stripe_signature_header
from tests.billing.conftest import WEBHOOK_SECRET, WEBHOOK_URL, stripe_event
from tests.billing.invoices import invoice, one_off_line, stripe_subscription, subscription_line
from tests.outreach.processes import database_url
from tests.proletto.scheduler_processes import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DELIVERIES = 4  # each event: Stripe's delivery and three redeliveries racing it


@pytest.fixture
def fake_stripe_api():
    with FakeStripe() as fake:
        yield fake


@pytest.fixture
def web(tmp_path, transactional_db, fake_stripe_api):
    """gunicorn serving the app on a free loopback port, against the test database."""
    log = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "proletto.settings_test",
        "DATABASE_URL": database_url(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "STRIPE_API_BASE": fake_stripe_api.api_base,
        "STRIPE_SECRET_KEY": "sk_test_local",
        "PYTHONUNBUFFERED": "1",
    }
    with open(log, "w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "proletto.wsgi",
                "--bind",
                "127.0.0.1:0",
                "--workers",
                "2",
                "--access-logfile",
                "-",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        found = wait_for(
            lambda: re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", log.read_text()),
            timeout=60,
            what="gunicorn to listen",
        )
        yield found.group(1)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def deliver(base_url: str, event: dict) -> tuple[int, dict]:
    payload = json.dumps(event)
    request = urllib.request.Request(
        base_url + WEBHOOK_URL,
        data=payload.encode(),
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": stripe_signature_header(payload, WEBHOOK_SECRET),
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def deliver_at_once(base_url: str, event: dict) -> list[tuple[int, dict]]:
    with ThreadPoolExecutor(DELIVERIES) as pool:
        return list(pool.map(lambda _: deliver(base_url, event), range(DELIVERIES)))


def item_first_invoice(start, end, *, item_at) -> dict:
    lines = [
        one_off_line("sub_live", at=item_at, description="Portfolio review"),
        subscription_line("sub_live", start=start, end=end),
    ]
    created = start + dt.timedelta(hours=1)
    return stripe_event(
        "invoice.paid", invoice("sub_live", lines, created=created), created=created
    )


def test_two_cycles_of_item_first_invoices_grant_both_months_once(
    web, make_subscription, fake_stripe_api
):
    now = timezone.now().replace(microsecond=0)
    first = (now - dt.timedelta(days=10), now + dt.timedelta(days=20))
    second = (first[1], first[1] + dt.timedelta(days=30))
    subscription = make_subscription(
        interval="monthly",
        billing_anchor=first[0] - dt.timedelta(days=30),
        credits_balance=4,
        stripe_customer_id="cus_live",
        stripe_subscription_id="sub_live",
    )
    fake_stripe_api.add_subscription(stripe_subscription("sub_live", start=first[0], end=first[1]))
    cycles = [
        item_first_invoice(*first, item_at=first[0] + dt.timedelta(days=5)),
        # An item older than the first cycle's: first-line logic took it for an old period.
        item_first_invoice(*second, item_at=first[0] + dt.timedelta(days=3)),
    ]
    answers = []
    for event, (start, end) in zip(cycles, [first, second], strict=True):
        answers += deliver_at_once(web, event)
        subscription.refresh_from_db()
        assert (subscription.credits_period_start, subscription.next_credit_reset_at) == (
            start,
            end,
        )
        assert subscription.next_credit_reset_at > timezone.now()

    assert [status for status, _ in answers] == [200] * 2 * DELIVERIES, answers
    outcomes = [body["outcome"] for _, body in answers]
    assert sum(outcome.startswith("reset ") for outcome in outcomes) == 2, outcomes
    resets = CreditLedgerEntry.objects.filter(subscription=subscription, kind="reset")
    assert sorted(resets.values_list("period_start", flat=True)) == [first[0], second[0]]
    assert subscription.credits_balance == 50
    assert set(StripeEvent.objects.values_list("state", flat=True)) == {"processed"}
    assert fake_stripe_api.requests == []  # the lines said the period: Stripe not asked
    assert Subscription.objects.get(pk=subscription.pk).credits_balance == 50
