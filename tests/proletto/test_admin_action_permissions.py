"""Every admin action and admin page that acts needs its own permission, not is_staff: a
view-only staff user is not offered the action, and posting it anyway changes nothing."""

import pytest
from django.test import Client
from django_apscheduler.models import DjangoJob

from billing.models import CreditLedgerEntry
from digests.models import DigestEmail, OpportunitySource
from proletto.models import RunRequest
from proletto.scheduling.jobstore import jobs_sync
from tests.digests.digest_data import artist, opportunity

pytestmark = pytest.mark.django_db

JOBS = "/admin/django_apscheduler/djangojob/"
SOURCES = "/admin/digests/opportunitysource/"
DIGESTS = "/admin/digests/digestemail/"
SUBSCRIPTIONS = "/admin/billing/subscription/"
VIEW_ALL = (
    "django_apscheduler.view_djangojob",
    "digests.view_opportunitysource",
    "digests.view_digestemail",
    "billing.view_subscription",
)


@pytest.fixture
def viewer(staff_with_permissions):
    client = Client()
    client.force_login(staff_with_permissions(*VIEW_ALL))
    return client


@pytest.fixture
def synced(scheduler_jobs_declared, live_leader):
    jobs_sync()


@pytest.fixture
def rows(synced):
    """One row in each list: the admin shows no action bar over an empty list."""
    OpportunitySource.objects.create(name="feed", kind="rss", url="http://127.0.0.1:9/feed")
    DigestEmail.objects.create(user=artist("giulia"), week_start="2026-11-23")


def post_action(client, url, name, *ids):
    return client.post(url, {"action": name, "_selected_action": [str(i) for i in ids]})


@pytest.mark.parametrize("url", [JOBS, SOURCES, DIGESTS, SUBSCRIPTIONS])
def test_a_view_only_staff_user_is_offered_no_action(viewer, rows, url):
    html = viewer.get(url).content.decode()
    assert 'name="action"' not in html


def test_a_view_only_staff_user_cannot_run_or_pause_a_job(viewer, synced):
    post_action(viewer, JOBS, "run_now", "hourly")
    post_action(viewer, JOBS, "pause", "hourly")
    assert not RunRequest.objects.exists()
    assert DjangoJob.objects.get(id="hourly").next_run_time is not None


def test_a_view_only_staff_user_cannot_scrape(viewer):
    source = OpportunitySource.objects.create(
        name="feed", kind="rss", url="http://127.0.0.1:9/feed"
    )
    post_action(viewer, SOURCES, "scrape_now", source.pk)
    source.refresh_from_db()
    assert source.last_fetched_at is None


def test_a_view_only_staff_user_cannot_resend_a_test_digest(viewer):
    opportunity("Call")
    digest = DigestEmail.objects.create(user=artist("giulia"), week_start="2026-11-23")
    post_action(viewer, DIGESTS, "resend_as_test", digest.pk)
    assert not DigestEmail.objects.filter(status=DigestEmail.Status.TEST).exists()


def test_a_view_only_staff_user_cannot_reset_credits(viewer):
    subscription = artist("giulia").subscription
    post_action(viewer, SUBSCRIPTIONS, "reset_credits_now", subscription.pk)
    assert not CreditLedgerEntry.objects.exists()


def test_a_view_only_staff_user_cannot_preview_a_digest(viewer):
    user = artist("giulia")
    assert viewer.get(f"{DIGESTS}preview/?user={user.pk}").status_code == 403


def test_the_preview_form_is_shown_only_to_who_may_preview(viewer, staff_with_permissions):
    assert "preview-user" not in viewer.get(DIGESTS).content.decode()
    previewer = Client()
    previewer.force_login(
        staff_with_permissions("digests.view_digestemail", "digests.preview_digest", username="p")
    )
    assert "preview-user" in previewer.get(DIGESTS).content.decode()


@pytest.mark.parametrize(
    ("permission", "url", "action"),
    [
        ("proletto.run_job", JOBS, "run_now"),
        ("proletto.pause_job", JOBS, "pause"),
        ("proletto.pause_job", JOBS, "resume"),
        ("digests.scrape_opportunitysource", SOURCES, "scrape_now"),
        ("digests.send_test_digest", DIGESTS, "resend_as_test"),
        ("billing.reset_credits", SUBSCRIPTIONS, "reset_credits_now"),
    ],
)
def test_each_action_is_offered_with_its_own_permission(
    staff_with_permissions, rows, permission, url, action
):
    client = Client()
    client.force_login(staff_with_permissions(*VIEW_ALL, permission))
    html = client.get(url).content.decode()
    assert f'value="{action}"' in html
