from io import StringIO

import pytest
from django.core.management import call_command

from outreach.checks import check_outreach_settings
from outreach.models import UpsellSequence, UpsellSession


def test_a_missing_webhook_secret_is_left_to_the_deploy_check(settings):
    settings.DEBUG = False
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": None}
    assert check_outreach_settings(None) == []


def test_it_refuses_a_retry_factor_below_one(settings):
    settings.EMAIL_RETRY_FACTOR = 0.5
    assert "outreach.E002" in [problem.id for problem in check_outreach_settings(None)]


def test_it_refuses_a_negative_relay_prefetch(settings):
    settings.EMAIL_RELAY_PREFETCH = -1
    [problem] = check_outreach_settings(None)
    assert (problem.id, problem.msg) == ("outreach.E001", "EMAIL_RELAY_PREFETCH must be 0 or more")


@pytest.mark.django_db
def test_the_demo_has_a_three_step_sequence_and_sessions_for_free_users(settings):
    settings.DEBUG = True
    call_command("load_demo", stdout=StringIO())
    call_command("load_demo", stdout=StringIO())
    sequence = UpsellSequence.objects.get(code="free-to-pro")
    assert sequence.steps.count() == 3
    sessions = UpsellSession.objects.filter(status="active")
    assert sessions.count() == 2
    assert not sessions.filter(user__subscription__plan__is_pro=True).exists()


def test_it_refuses_a_claim_timeout_shorter_than_four_esp_deadlines(settings):
    settings.EMAIL_TIMEOUT = 20
    settings.ANYMAIL = {**settings.ANYMAIL, "REQUESTS_TIMEOUT": 20}
    settings.EMAIL_CLAIM_TIMEOUT_SECONDS = 79
    [problem] = check_outreach_settings(None)
    assert problem.id == "outreach.E003"
    assert "(80 s)" in problem.msg
    settings.EMAIL_CLAIM_TIMEOUT_SECONDS = 80
    assert check_outreach_settings(None) == []
