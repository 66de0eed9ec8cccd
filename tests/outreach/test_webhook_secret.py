"""Without its secret the tracking webhook refuses everything, and check --deploy fails."""

import json

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from outreach.models import EmailEvent, Suppression

pytestmark = pytest.mark.django_db

URL = "/anymail/sendgrid/tracking/"
FORGED_BOUNCE = [
    {
        "event": "bounce",
        "email": "victim@example.com",
        "timestamp": 1772442000,
        "sg_event_id": "forged-1",
        "type": "bounce",
        "reason": "550 forged",
    }
]


@pytest.fixture
def no_secret(settings):
    settings.DEBUG = False
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": None}


def test_without_a_secret_in_production_a_forged_bounce_is_refused_with_503(client, no_secret):
    response = client.post(URL, data=json.dumps(FORGED_BOUNCE), content_type="application/json")
    assert response.status_code == 503
    assert "ANYMAIL_WEBHOOK_SECRET is not configured" in response.json()["error"]
    assert not Suppression.objects.exists()
    assert not EmailEvent.objects.exists()


@pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailInsecureWebhookWarning")
def test_with_debug_on_and_no_secret_events_are_accepted_for_development(client, settings):
    settings.DEBUG = True
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": None}
    response = client.post(URL, data=json.dumps(FORGED_BOUNCE), content_type="application/json")
    assert response.status_code == 200
    assert Suppression.objects.filter(address="victim@example.com").exists()


def test_a_missing_secret_is_a_check_error_not_a_warning(no_secret):
    problems = [p for p in run_checks(include_deployment_checks=True) if p.id == "outreach.E004"]
    assert len(problems) == 1
    assert problems[0].is_serious()


def test_check_deploy_fails_without_the_secret(no_secret):
    with pytest.raises(SystemCheckError, match="outreach.E004"):
        call_command("check", "--deploy", "--fail-level", "ERROR")


def test_check_deploy_fails_when_unsubscribe_links_would_not_be_https(settings):
    settings.DEBUG = False
    settings.SITE_URL = "http://proletto.example"
    problems = [p for p in run_checks(include_deployment_checks=True) if p.id == "outreach.E005"]
    assert len(problems) == 1
    assert problems[0].is_serious()
