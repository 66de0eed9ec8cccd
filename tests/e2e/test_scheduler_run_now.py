import pytest
from django_apscheduler.models import DjangoJobExecution

from proletto.models import SchedulerLease
from proletto.scheduling.statuses import EXECUTED
from tests.proletto.scheduler_processes import Schedulers, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def scheduler(tmp_path, settings):
    settings.SCHEDULER_JOB_MODULES = ["tests.proletto.scheduler_jobs_live"]  # as the child's
    group = Schedulers(tmp_path)
    # Hourly, so the only run in the test is the one asked for from the admin.
    group.start(TICK_SECONDS=3600)
    wait_for(
        lambda: SchedulerLease.objects.exclude(holder="").exists(), timeout=20, what="a leader"
    )
    yield group
    assert group.stop_all() == [0]


def test_run_now_from_the_admin_runs_on_the_scheduler(
    page, live_server, admin_login, screenshot, scheduler
):
    admin_login()
    page.goto(f"{live_server.url}/admin/django_apscheduler/djangojob/")
    screenshot("-jobs")
    page.check('input[name="_selected_action"][value="tick"]')
    page.select_option('select[name="action"]', "run_now")
    page.click('button[name="index"]')
    page.wait_for_selector("text=Asked the scheduler to run tick")

    wait_for(
        lambda: DjangoJobExecution.objects.filter(job_id="tick", status=EXECUTED).exists(),
        timeout=10,
        what="the requested run",
    )
    page.goto(f"{live_server.url}/admin/django_apscheduler/djangojobexecution/?job__id__exact=tick")
    row = page.locator("#result_list tbody tr").first
    assert "Executed" in row.inner_text()
    assert len(scheduler.ticks()) == 1
    screenshot()

    page.goto(f"{live_server.url}/admin/django_apscheduler/djangojob/")
    tick_row = page.locator("#result_list tbody tr", has_text="Fires every second.")
    assert "Executed" in tick_row.inner_text()
    assert tick_row.locator("svg.run-chart rect").count() == 1
    screenshot("-history-chart")
