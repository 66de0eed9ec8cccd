"""The digest admin API: staff only, JSON errors, POST for side effects, run-now via the leader."""

import pytest
from django.test import Client

from digests.models import DigestEmail
from outreach.models import EmailOutbox, Suppression
from proletto.models import RunRequest
from proletto.scheduling.jobstore import job_pause, jobs_sync
from proletto.scheduling.leadership import lease_acquire
from tests.digests.digest_data import NOW, artist, opportunity

pytestmark = pytest.mark.django_db

STATUS = "/admin/api/digest-scheduler-status"
RUN_NOW = "/admin/api/run-digest-now"


def digest_test_url(user_id):
    return f"/admin/api/test-digest-email/{user_id}"


@pytest.fixture
def jobs_in_store():
    jobs_sync()


@pytest.fixture
def staff_client(django_user_model):
    django_user_model.objects.create_user("ops", password="pw-123456789", is_staff=True)
    client = Client()
    client.login(username="ops", password="pw-123456789")
    return client


@pytest.fixture
def artist_client(django_user_model):
    django_user_model.objects.create_user("artist", password="pw-123456789")
    client = Client()
    client.login(username="artist", password="pw-123456789")
    return client


def test_status_reports_the_digest_job_and_this_weeks_counts(staff_client, jobs_in_store):
    body = staff_client.get(STATUS).json()
    assert body["scheduled"] is True
    assert body["job"]["id"] == "send_weekly_digests"
    assert body["job"]["next_run_time"]
    assert body["leader_alive"] is False
    assert body["digests_this_week"]["queued"] == 0
    assert body["history_url"].endswith("?job__id__exact=send_weekly_digests")


def test_status_says_when_the_job_is_paused(staff_client, jobs_in_store):
    job_pause(job_id="send_weekly_digests")
    assert staff_client.get(STATUS).json()["scheduled"] is False


@pytest.mark.parametrize("url", [STATUS, RUN_NOW, digest_test_url(1)])
def test_anonymous_callers_get_a_json_403(client, url):
    response = client.generic("GET" if url == STATUS else "POST", url)
    assert response.status_code == 403
    assert response.json() == {"error": "log in as staff first"}


@pytest.mark.parametrize("url", [STATUS, RUN_NOW, digest_test_url(1)])
def test_non_staff_get_a_json_403(artist_client, url):
    response = artist_client.generic("GET" if url == STATUS else "POST", url)
    assert response.status_code == 403
    assert response.json() == {"error": "staff only"}


@pytest.mark.parametrize("url", [RUN_NOW, digest_test_url(1)])
def test_side_effecting_endpoints_refuse_get(staff_client, url):
    assert staff_client.get(url).status_code == 405


def test_run_now_hands_the_run_to_a_live_leader(staff_client, jobs_in_store):
    lease_acquire(holder="host-a", seconds=60)
    response = staff_client.post(RUN_NOW)
    assert response.status_code == 202
    run = RunRequest.objects.get()
    assert (run.job_id, run.requested_by, run.status) == ("send_weekly_digests", "ops", "pending")
    assert response.json()["run_request_id"] == run.pk


def test_run_now_without_a_scheduler_says_so_and_records_nothing(staff_client, jobs_in_store):
    response = staff_client.post(RUN_NOW)
    assert response.status_code == 409
    assert "no scheduler is running" in response.json()["error"]
    assert not RunRequest.objects.exists()


def test_run_now_checks_csrf_for_browser_sessions(django_user_model, jobs_in_store):
    django_user_model.objects.create_user("ops", password="pw-123456789", is_staff=True)
    client = Client(enforce_csrf_checks=True)
    client.login(username="ops", password="pw-123456789")
    lease_acquire(holder="host-a", seconds=60)
    assert client.post(RUN_NOW).status_code == 403
    assert not RunRequest.objects.exists()


def test_test_digest_is_sent_to_a_free_user_with_status_test(staff_client):
    for i in range(3):
        opportunity(f"Call {i}")
    user = artist("free", pro=False)
    response = staff_client.post(digest_test_url(user.pk))
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "test" and body["recipient"] == "free@artists.test"
    assert DigestEmail.objects.get().status == DigestEmail.Status.TEST


def test_test_digest_for_an_unknown_user_is_a_json_404(staff_client):
    response = staff_client.post(digest_test_url(999999))
    assert response.status_code == 404
    assert response.json() == {"error": "no user with id 999999"}
    assert not DigestEmail.objects.exists()


def test_test_digest_with_nothing_to_send_is_a_json_422(staff_client):
    user = artist("potter", mediums=["ceramics"], interests=[])
    response = staff_client.post(digest_test_url(user.pk))
    assert response.status_code == 422
    assert "nothing to send" in response.json()["error"]
    assert not DigestEmail.objects.exists()


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
