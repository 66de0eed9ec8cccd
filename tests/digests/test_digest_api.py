"""The digest admin API: staff with a specific permission, JSON errors, POST for side effects,
run-now via the leader, test digests rate-limited per staff user."""

import datetime as dt

import pytest
import time_machine
from django.test import Client, override_settings

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


ALL_PERMISSIONS = ("digests.view_digestemail", "proletto.run_job", "digests.send_test_digest")


@pytest.fixture
def staff_client(staff_with_permissions):
    client = Client()
    client.force_login(staff_with_permissions(*ALL_PERMISSIONS))
    return client


@pytest.fixture
def bare_staff_client(staff_with_permissions):
    """Staff with every permission but the one each endpoint needs."""

    def make(missing):
        client = Client()
        client.force_login(staff_with_permissions(*(p for p in ALL_PERMISSIONS if p != missing)))
        return client

    return make


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


def test_status_counts_this_weeks_digests_by_how_their_email_fared(staff_client):
    from digests.services.digest import digests_send_due

    for i in range(6):
        opportunity(f"Call {i}")
    for name in ("sent", "dead", "waiting"):
        artist(name)
    artist("suppressed")
    Suppression.objects.create(address="suppressed@artists.test", reason="bounced")
    digests_send_due(now=NOW)
    EmailOutbox.objects.filter(user__username="sent").update(status=EmailOutbox.Status.SENT)
    EmailOutbox.objects.filter(user__username="dead").update(status=EmailOutbox.Status.DEAD)
    with time_machine.travel(NOW, tick=False):
        counts = staff_client.get(STATUS).json()["digests_this_week"]
    assert counts == {"queued": 1, "sent": 1, "failed": 1, "skipped": 1, "unknown": 0}


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


def test_run_now_checks_csrf_for_browser_sessions(staff_with_permissions, jobs_in_store):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_with_permissions(*ALL_PERMISSIONS))
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
    assert body["status"] == "test" and body["user_id"] == user.pk
    digest = DigestEmail.objects.get()
    assert digest.status == DigestEmail.Status.TEST
    assert digest.requested_by.username == "ops"


def test_test_digest_answer_carries_no_address(staff_client):
    opportunity("Call")
    user = artist("free", pro=False)
    response = staff_client.post(digest_test_url(user.pk))
    assert response.status_code == 201
    assert "@" not in response.content.decode()


@pytest.mark.parametrize(
    ("method", "url", "permission"),
    [
        ("GET", STATUS, "digests.view_digestemail"),
        ("POST", RUN_NOW, "proletto.run_job"),
        ("POST", digest_test_url(1), "digests.send_test_digest"),
    ],
)
def test_staff_without_the_endpoints_permission_get_a_json_403(
    bare_staff_client, jobs_in_store, method, url, permission
):
    lease_acquire(holder="host-a", seconds=60)
    response = bare_staff_client(permission).generic(method, url)
    assert response.status_code == 403
    assert response.json() == {"error": f"you lack the permission {permission}"}
    assert not RunRequest.objects.exists() and not DigestEmail.objects.exists()


@override_settings(TEST_DIGEST_LIMIT_PER_HOUR=3, DIGEST_OPPORTUNITY_COUNT=1)
def test_test_digests_are_limited_per_staff_user_with_a_429(staff_client, staff_with_permissions):
    for number in range(5):  # a test digest's item is not sent to the artist again
        opportunity(f"Call {number}")
    user = artist("free", pro=False)
    start = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        codes = [staff_client.post(digest_test_url(user.pk)).status_code for _ in range(4)]
        limited = staff_client.post(digest_test_url(user.pk))
        other = Client()
        other.force_login(staff_with_permissions(*ALL_PERMISSIONS, username="ops2"))
        assert other.post(digest_test_url(user.pk)).status_code == 201
    assert codes == [201, 201, 201, 429]
    assert limited.status_code == 429
    assert limited["Retry-After"] == "3601"
    assert "TEST_DIGEST_LIMIT_PER_HOUR" in limited.json()["error"]
    assert DigestEmail.objects.filter(requested_by__username="ops").count() == 3


@override_settings(TEST_DIGEST_LIMIT_PER_HOUR=1)
@override_settings(DIGEST_OPPORTUNITY_COUNT=1)
def test_the_test_digest_limit_frees_up_an_hour_after_the_oldest(staff_client):
    for number in range(3):  # a test digest's item is not sent to the artist again
        opportunity(f"Call {number}")
    user = artist("free", pro=False)
    start = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        assert staff_client.post(digest_test_url(user.pk)).status_code == 201
    with time_machine.travel(start + dt.timedelta(minutes=59), tick=False):
        assert staff_client.post(digest_test_url(user.pk)).status_code == 429
    with time_machine.travel(start + dt.timedelta(minutes=60, seconds=1), tick=False):
        assert staff_client.post(digest_test_url(user.pk)).status_code == 201


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
    error = response.json()["error"]
    # The reason, and whose address, but never the address itself (no enumeration by id).
    assert "bounced's address is suppressed" in error and "550 no such user" in error
    assert "@" not in error
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
