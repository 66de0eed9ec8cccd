"""The job page an operator uses at 3 am, and the job lists, in a real chromium at 1280 px."""

import datetime as dt

import pytest
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from proletto.models import RunRequest
from proletto.scheduling.jobstore import jobs_sync
from proletto.scheduling.leadership import lease_acquire
from proletto.scheduling.statuses import EXECUTED, FAILED
from tests.proletto import scheduler_jobs

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

JOB_PAGE = "/admin/django_apscheduler/djangojob/hourly/change/"
LONG_ERROR = "ConnectionError: " + "the feed at https://calls.example/very/long/path refused " * 6


@pytest.fixture
def jobs(settings):
    settings.SCHEDULER_JOB_MODULES = ["tests.proletto.scheduler_jobs"]
    settings.SCHEDULE_OVERRIDES = {}
    scheduler_jobs.CALLS.clear()
    jobs_sync()
    assert lease_acquire(holder="test-leader", seconds=3600)
    start = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    for n in range(12):
        failed = n % 5 == 4
        DjangoJobExecution.objects.create(
            job_id="hourly",
            run_time=start + dt.timedelta(hours=n),
            status=FAILED if failed else EXECUTED,
            duration=0.5 + n % 4,
            exception=LONG_ERROR if failed else None,
        )


def login(page, live_server, username, password="ops-password-123"):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


def test_the_job_page_runs_pauses_and_resumes_with_buttons(
    page, live_server, admin_login, screenshot, jobs
):
    admin_login()
    page.goto(f"{live_server.url}{JOB_PAGE}")
    assert page.locator("input[name=_save], .deletelink").count() == 0  # no Save, no Delete
    assert page.inner_text("#job-state") == "Scheduled"
    bars = page.locator("svg.run-chart-large rect")
    assert bars.count() == 12
    assert page.locator("svg.run-chart-large").bounding_box()["width"] >= 300
    assert page.locator("svg.run-chart-large rect[data-status='Error!']").count() == 2
    assert page.locator("#job-runs tbody tr").count() == 12
    screenshot()

    page.click("#job-run-now")
    page.wait_for_selector(".messagelist")
    assert "Asked the scheduler to run hourly" in page.inner_text(".messagelist")
    assert RunRequest.objects.get().requested_by == "ops"

    page.click("#job-pause")
    page.wait_for_selector("text=Paused hourly")
    assert page.inner_text("#job-state") == "Paused"
    assert page.locator("#job-run-now").is_disabled()
    assert DjangoJob.objects.get(id="hourly").next_run_time is None
    screenshot("-paused")

    page.click("#job-resume")
    page.wait_for_selector("text=Resumed hourly")
    assert page.inner_text("#job-state") == "Scheduled"
    assert DjangoJob.objects.get(id="hourly").next_run_time is not None

    page.click("#job-runs-link")
    page.wait_for_url("**/djangojobexecution/?job__id__exact=hourly")
    assert page.locator("#result_list tbody tr").count() == 12


def test_a_view_only_staff_user_sees_no_actions_and_no_buttons(
    page, live_server, staff_with_permissions, screenshot, jobs
):
    staff_with_permissions(
        "django_apscheduler.view_djangojob",
        "django_apscheduler.view_djangojobexecution",
        username="viewer",
    )
    login(page, live_server, "viewer")
    page.goto(f"{live_server.url}/admin/django_apscheduler/djangojob/")
    assert page.locator("#result_list tbody tr").count() == 4
    assert page.locator("select[name=action], input[name=_selected_action]").count() == 0
    screenshot("-list")
    page.goto(f"{live_server.url}{JOB_PAGE}")
    assert page.locator("#job-run-now, #job-pause, #job-resume").count() == 0
    assert page.locator("svg.run-chart-large rect").count() == 12
    screenshot()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/django_apscheduler/djangojob/",
        "/admin/django_apscheduler/djangojobexecution/",
        "/admin/proletto/runrequest/",
    ],
    ids=["jobs", "runs", "run-requests"],
)
def test_the_job_lists_fit_1280_pixels(page, live_server, admin_login, screenshot, jobs, url):
    RunRequest.objects.create(
        job_id="hourly",
        requested_by="an-operator-with-a-long-name@proletto.example",
        requested_at=dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC),
    )
    admin_login()
    page.goto(f"{live_server.url}{url}")
    results = page.locator("#changelist .results")
    overflow = results.evaluate("el => el.scrollWidth - el.clientWidth")
    screenshot()
    assert overflow <= 0, f"{overflow} px of the table are cut off at 1280 px"


@pytest.mark.parametrize(
    "url",
    [
        "/admin/digests/opportunitysource/",
        "/admin/outreach/emailoutbox/",
        "/admin/digests/digestemail/",
    ],
    ids=["sources", "outbox", "digests"],
)
def test_the_lists_with_errors_and_statuses_fit_1280_pixels(
    page, live_server, admin_login, screenshot, url
):
    from digests.models import DigestEmail, OpportunitySource
    from outreach.models import EmailOutbox
    from tests.digests.digest_data import artist

    user = artist("a-painter-with-a-rather-long-username")
    OpportunitySource.objects.create(
        name="Fondazione per le arti visive contemporanee, bandi e residenze",
        kind="rss",
        url="https://calls.example/feeds/very/long/path/to/the/feed.xml",
        consecutive_failures=3,
        last_error=LONG_ERROR,
    )
    outbox = EmailOutbox.objects.create(
        recipient="a-painter-with-a-rather-long-username@artists.example",
        user=user,
        subject="A Painter With A Rather Long Username, 5 opportunities for you this week",
        category="digest",
        idempotency_key="k1",
        last_error=LONG_ERROR,
    )
    DigestEmail.objects.create(
        user=user,
        week_start="2026-11-23",
        outbox=outbox,
        skip_reason="no open opportunity fits the profile (mediums, interests) this week",
    )
    admin_login()
    page.goto(f"{live_server.url}{url}")
    overflow = page.locator("#changelist .results").evaluate(
        "el => el.scrollWidth - el.clientWidth"
    )
    screenshot()
    assert overflow <= 0, f"{overflow} px of the table are cut off at 1280 px"
