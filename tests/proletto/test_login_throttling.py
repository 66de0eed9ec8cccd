"""Admin login is throttled by django-axes: failures from one address lock it out (429)."""

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_superuser("ops", "ops@proletto.test", "right-pw-123")


def attempt(client, password, address="203.0.113.7"):
    return client.post(LOGIN, {"username": "ops", "password": password}, REMOTE_ADDR=address)


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=5)
def test_the_right_password_is_refused_after_five_failures(operator):
    client = Client()
    failures = [attempt(client, f"guess-{n}").status_code for n in range(5)]
    response = attempt(client, "right-pw-123")
    assert failures[:4] == [200] * 4  # the form again, with its error
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=5)
def test_another_address_can_still_log_in(operator):
    for n in range(5):
        attempt(Client(), f"guess-{n}")
    response = attempt(Client(), "right-pw-123", address="198.51.100.9")
    assert response.status_code == 302


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=5)
def test_a_forged_forwarded_for_header_does_not_dodge_the_lock(operator):
    for n in range(5):
        Client().post(
            LOGIN,
            {"username": "ops", "password": f"guess-{n}"},
            REMOTE_ADDR="203.0.113.7",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        )
    assert attempt(Client(), "right-pw-123").status_code == 429


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=5)
def test_a_success_before_the_limit_clears_the_count(operator):
    for n in range(4):
        attempt(Client(), f"guess-{n}")
    assert attempt(Client(), "right-pw-123").status_code == 302
    for n in range(4):
        attempt(Client(), f"guess-again-{n}")
    assert attempt(Client(), "right-pw-123").status_code == 302
