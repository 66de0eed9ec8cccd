"""Drill 5: bad input everywhere. Each gets a clear, one-line error, and a snapshot of every
table before and after shows that nothing changed.

Runs on the demo data set, so every table the inputs could touch holds real rows.
"""

import base64
import hashlib
import json
import time
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.test import Client

from digests.models import Opportunity, OpportunitySource
from digests.services.scrape import opportunities_scrape
from tests.billing.conftest import stripe_signature
from tests.digests.conftest import FeedServer

pytestmark = pytest.mark.django_db

# Tables whose rows a read-only request may legitimately write: the session of the staff
# client, and a failed source's own health columns (checked separately).
VOLATILE = {"django_session"}


def snapshot(exclude=()) -> dict[str, str]:
    """A digest of every row of every table, by table name."""
    digests = {}
    for model in apps.get_models():
        table = model._meta.db_table
        if table in VOLATILE or table in exclude:
            continue
        rows = model.objects.order_by("pk").values_list(flat=False)
        digests[table] = hashlib.sha256(repr(list(rows)).encode()).hexdigest()
    return digests


@pytest.fixture
def demo(settings):
    settings.ADMINS = [("Ops", "ops@proletto.test")]
    call_command("load_demo", stdout=StringIO())


@pytest.fixture
def staff(demo):
    client = Client()
    client.login(username="admin", password="proletto-admin")
    return client


def one_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


# --- webhooks ---------------------------------------------------------------------------------

STRIPE_URL = "/billing/stripe/webhook/"
ESP_URL = "/anymail/sendgrid/tracking/"
EVENT = json.dumps({"id": "evt_1", "type": "invoice.paid", "created": 1, "data": {"object": {}}})


def esp_auth(secret):
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


WEBHOOK_CASES = {
    "stripe, no signature": (STRIPE_URL, EVENT, {}),
    "stripe, forged signature": (
        STRIPE_URL,
        EVENT,
        {"HTTP_STRIPE_SIGNATURE": stripe_signature(EVENT, secret="whsec_forged")},
    ),
    "stripe, stale timestamp": (
        STRIPE_URL,
        EVENT,
        {"HTTP_STRIPE_SIGNATURE": stripe_signature(EVENT, timestamp=int(time.time()) - 3600)},
    ),
    "stripe, signed body that is not JSON": (
        STRIPE_URL,
        "{not json",
        {"HTTP_STRIPE_SIGNATURE": stripe_signature("{not json")},
    ),
    "esp, wrong secret": (ESP_URL, "[]", esp_auth("hook:wrong")),
    "esp, malformed payload": (ESP_URL, "{not json", esp_auth("hook:test-secret")),
    "esp, events that are not objects": (ESP_URL, '["x", 1]', esp_auth("hook:test-secret")),
}


@pytest.mark.parametrize("case", list(WEBHOOK_CASES))
def test_a_bad_webhook_gets_a_4xx_with_a_reason_and_changes_nothing(demo, case):
    url, body, headers = WEBHOOK_CASES[case]
    before = snapshot()
    response = Client().post(url, data=body, content_type="application/json", **headers)
    assert 400 <= response.status_code < 500, response.content
    assert response.content.strip()
    assert snapshot() == before


# --- commands ---------------------------------------------------------------------------------

COMMAND_CASES = {
    "send_test_digest, unknown user": (["send_test_digest", "nobody"], "no user 'nobody'"),
    "reset_monthly_credits, unknown subscription": (
        ["reset_monthly_credits", "--subscription", "999999"],
        "999999",
    ),
    "runjob, unknown job": (["runjob", "no_such_job"], "no_such_job"),
    "scrape_opportunities, unknown source": (
        ["scrape_opportunities", "--source", "No Such Source"],
        "No Such Source",
    ),
    "process_outbox, zero batch": (["process_outbox", "--batch-size", "0"], "batch"),
}


@pytest.mark.parametrize("case", list(COMMAND_CASES))
def test_a_command_given_bad_input_fails_in_one_line_and_changes_nothing(demo, case):
    argv, expected = COMMAND_CASES[case]
    before = snapshot()
    with pytest.raises(CommandError) as excinfo:
        call_command(*argv, stdout=StringIO(), stderr=StringIO())
    assert expected in one_line(str(excinfo.value))
    assert snapshot() == before


def test_an_invalid_schedule_override_stops_the_scheduler_naming_the_job(demo, settings):
    settings.SCHEDULE_OVERRIDES = {"scrape_opportunities": "cron: 99 * * * *"}
    before = snapshot()
    with pytest.raises(CommandError) as excinfo:
        call_command("runapscheduler", stdout=StringIO(), stderr=StringIO())
    assert "job 'scrape_opportunities'" in one_line(str(excinfo.value))
    assert snapshot() == before


# --- admin API --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("post", "/admin/api/test-digest-email/999999", 404),
        ("get", "/admin/api/run-digest-now", 405),
        ("get", "/admin/api/test-digest-email/1", 405),
        ("post", "/admin/api/run-digest-now", 409),  # no live scheduler: refused, not queued
    ],
)
def test_the_admin_api_refuses_bad_calls_and_changes_nothing(staff, method, url, status):
    before = snapshot()
    response = getattr(staff, method)(url)
    assert response.status_code == status
    if status != 405:
        assert one_line(response.json()["error"])
    assert snapshot() == before


# --- hostile feeds ----------------------------------------------------------------------------

HOSTILE_FEEDS = {
    "invalid XML": (b"<?xml version='1.0'?><rss><channel><item><title>cut", "application/xml"),
    "not a feed": (b"<html><body>Hello</body></html>", "text/html"),
    "huge": (b"<rss>" + b"x" * 300_000 + b"</rss>", "application/xml"),
    "empty": (b"", "application/xml"),
}


@pytest.mark.parametrize("case", list(HOSTILE_FEEDS))
def test_a_hostile_feed_fails_its_source_with_a_reason_and_loses_nothing(demo, settings, case):
    settings.SCRAPE_MAX_BYTES = 200_000
    settings.SCRAPE_TIMEOUT_SECONDS = 2
    settings.SCRAPE_ALLOW_PRIVATE_NETWORKS = True  # the hostile feeds are served on 127.0.0.1
    body, content_type = HOSTILE_FEEDS[case]
    server = FeedServer()
    server.thread.start()
    try:
        source = OpportunitySource.objects.get(
            kind=OpportunitySource.Kind.FEED, url__contains="rss"
        )
        source.url = server.serve("/feed", body, content_type)
        source.save(update_fields=["url"])
        before = snapshot(exclude={"digests_opportunitysource"})
        opportunities = list(Opportunity.objects.order_by("pk").values())
        summary = opportunities_scrape(source_names=[source.name])
    finally:
        server.release.set()
        server.httpd.shutdown()
        server.httpd.server_close()
    source.refresh_from_db()
    assert summary.as_counts()["failed"] == 1
    assert source.consecutive_failures == 1
    assert one_line(source.last_error)
    assert list(Opportunity.objects.order_by("pk").values()) == opportunities
    assert snapshot(exclude={"digests_opportunitysource"}) == before


def test_the_snapshot_sees_a_single_changed_value(demo):
    before = snapshot()
    Opportunity.objects.filter(pk=Opportunity.objects.first().pk).update(title="changed")
    assert snapshot() != before
