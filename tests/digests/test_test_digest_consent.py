"""A test digest to an address that will never get it is refused with the reason."""

import pytest
from django.test import Client

from digests.models import DigestEmail
from digests.services import digests_send_due
from outreach.models import EmailOutbox, Suppression
from tests.digests.digest_data import NOW, artist, opportunity

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(django_user_model):
    django_user_model.objects.create_user("ops", password="pw-123456789", is_staff=True)
    client = Client()
    client.login(username="ops", password="pw-123456789")
    return client


@pytest.fixture
def calls():
    for i in range(3):
        opportunity(f"Painting call {i}")


def test_the_api_answers_409_for_a_suppressed_address(staff_client, calls):
    user = artist("bounced", pro=False)
    Suppression.objects.create(address=user.email, reason="bounced: 550 no such user")
    response = staff_client.post(f"/admin/api/test-digest-email/{user.pk}")
    assert response.status_code == 409
    assert "bounced@artists.test" in response.json()["error"]
    assert "550 no such user" in response.json()["error"]
    assert not DigestEmail.objects.exists()
    assert not EmailOutbox.objects.exists()


def test_the_api_answers_409_for_an_unsubscribed_user(staff_client, calls):
    user = artist("gone", pro=False, unsubscribed_at=NOW)
    response = staff_client.post(f"/admin/api/test-digest-email/{user.pk}")
    assert response.status_code == 409
    assert "unsubscribed" in response.json()["error"]
    assert not DigestEmail.objects.exists()


def test_the_api_still_sends_once_a_temporary_suppression_expired(staff_client, calls):
    user = artist("blocked", pro=False)
    Suppression.objects.create(
        address=user.email, reason="3 soft bounces", expires_at=NOW.replace(year=2020)
    )
    assert staff_client.post(f"/admin/api/test-digest-email/{user.pk}").status_code == 201


def test_the_admin_resend_says_why_it_did_not_queue_a_suppressed_address(admin_client, calls):
    user = artist("p1")
    digests_send_due(now=NOW)
    Suppression.objects.create(address=user.email, reason="complained: spam report")
    digest = DigestEmail.objects.get(user=user)
    response = admin_client.post(
        "/admin/digests/digestemail/",
        {"action": "resend_as_test", "_selected_action": [digest.pk]},
        follow=True,
    )
    messages = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert messages == [("error", f"{user.email} is suppressed (complained: spam report)")]
    assert not DigestEmail.objects.filter(status=DigestEmail.Status.TEST).exists()
