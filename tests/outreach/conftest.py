import warnings
from datetime import timedelta

import pytest
from anymail.exceptions import AnymailNotSupportedWarning

from outreach.testing.fake_sendgrid import FakeSendGrid


@pytest.fixture(autouse=True)
def _sendgrid_support_is_known():
    # SendGrid is the seeds' production ESP; Anymail's "unsupported" notice is in the README.
    warnings.filterwarnings("ignore", category=AnymailNotSupportedWarning)


@pytest.fixture
def fake_sendgrid():
    with FakeSendGrid() as server:
        yield server


@pytest.fixture
def sendgrid(settings, fake_sendgrid):
    """Send through the project's SendGrid backend (Anymail's, over urllib3) to the local fake
    SendGrid."""
    settings.EMAIL_ESP = "sendgrid"
    settings.EMAIL_BACKEND = "outreach.sendgrid_backend.SendGridBackend"
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "SENDGRID_API_KEY": "SG.test-key",
        "SENDGRID_API_URL": fake_sendgrid.api_url,
        "REQUESTS_TIMEOUT": 0.5,
    }
    settings.EMAIL_RETRY_BASE_SECONDS = 60
    settings.EMAIL_RETRY_FACTOR = 2
    settings.EMAIL_RETRY_CAP_SECONDS = 3600
    settings.EMAIL_MAX_ATTEMPTS = 5
    return fake_sendgrid


@pytest.fixture
def enqueue():
    """Queue a transactional test email (templates/email/upsell_welcome) for `recipient`."""
    from outreach.consent import marketing_headers
    from outreach.models import MARKETING_CATEGORIES
    from outreach.services.outbox import outbox_enqueue

    counter = iter(range(1, 1_000_000))

    def make(recipient="ada@example.com", category="transactional", **kwargs):
        kwargs.setdefault("idempotency_key", f"test:{next(counter)}:{recipient}")
        if category in MARKETING_CATEGORIES:
            # Marketing is refused without one-click headers; these name no real account.
            kwargs.setdefault("headers", marketing_headers("https://proletto.test/unsubscribe/x/"))
        return outbox_enqueue(
            recipient=recipient,
            template=kwargs.pop("template", "upsell_welcome"),
            context=kwargs.pop("context", {"user": {"username": "ada"}}),
            category=category,
            **kwargs,
        )

    return make


@pytest.fixture
def sequence():
    """Free to Pro: three steps, on days 0, 3 and 12 of a 14-day offer."""
    from outreach.models import UpsellSequence, UpsellStep

    sequence = UpsellSequence.objects.create(
        code="free-to-pro", name="Free to Pro", duration=timedelta(days=14)
    )
    for position, days, template in [
        (1, 0, "upsell_welcome"),
        (2, 3, "upsell_features"),
        (3, 12, "upsell_last_chance"),
    ]:
        UpsellStep.objects.create(
            sequence=sequence, position=position, delay=timedelta(days=days), template=template
        )
    return sequence


@pytest.fixture
def artist(django_user_model):
    return django_user_model.objects.create_user(
        username="giulia", email="giulia@artists.example", display_name="Giulia"
    )


def make_pro(user, *, anchor):
    from billing.models import Plan, Subscription

    plan = Plan.objects.create(code="pro", name="Pro", is_pro=True, monthly_credits=10)
    Subscription.objects.create(user=user, plan=plan, billing_anchor=anchor)
