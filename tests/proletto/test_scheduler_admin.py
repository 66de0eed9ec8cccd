import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from proletto.models import RunRequest
from proletto.scheduling.jobstore import job_pause, jobs_sync
from proletto.scheduling.statuses import EXECUTED, FAILED, INTERRUPTED

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/django_apscheduler/djangojob/"


@pytest.fixture
def synced(scheduler_jobs_declared):
    jobs_sync()
    return scheduler_jobs_declared


def action(client, name, *job_ids):
    return client.post(CHANGELIST, {"action": name, "_selected_action": list(job_ids)}, follow=True)


def test_run_now_records_a_request_without_running_the_job(admin_client, synced, live_leader):
    response = action(admin_client, "run_now", "hourly")
    assert "Asked the scheduler to run hourly" in response.content.decode()
    assert RunRequest.objects.get().job_id == "hourly"
    assert synced.CALLS == []
    assert not DjangoJobExecution.objects.exists()


def test_run_now_says_plainly_when_no_scheduler_runs(admin_client, synced):
    response = action(admin_client, "run_now", "hourly")
    assert "Not run: no scheduler is running" in response.content.decode()
    assert not RunRequest.objects.exists()


def test_run_now_on_a_paused_job_says_it_is_paused(admin_client, synced, live_leader):
    job_pause(job_id="hourly")
    response = action(admin_client, "run_now", "hourly")
    assert "is paused" in response.content.decode()


def test_pause_and_resume_actions_persist(admin_client, synced):
    action(admin_client, "pause", "hourly", "slow")
    assert set(DjangoJob.objects.filter(next_run_time=None).values_list("id", flat=True)) == {
        "hourly",
        "slow",
    }
    action(admin_client, "resume", "hourly")
    assert DjangoJob.objects.get(id="hourly").next_run_time is not None


def test_the_job_list_warns_when_no_scheduler_runs(admin_client, synced):
    assert "No scheduler is running" in admin_client.get(CHANGELIST).content.decode()


def test_the_job_list_shows_schedule_status_and_a_run_chart(admin_client, synced, live_leader):
    for minutes, status in [(3, EXECUTED), (2, FAILED), (1, EXECUTED)]:
        DjangoJobExecution.objects.create(
            job_id="hourly",
            run_time=dt.datetime(2026, 3, 2, 10, minutes, tzinfo=dt.UTC),
            status=status,
            duration=minutes,
        )
    html = admin_client.get(CHANGELIST).content.decode()
    assert "every 1 h" in html
    assert "Runs every hour; a missed run is run once." in html
    assert "Executed</span> 2026-03-02" in html
    assert html.count("<rect") == 3
    assert "2.00 s" in html  # the average of successful runs


def test_the_job_list_costs_the_same_queries_for_1_or_30_runs_per_job(
    admin_client, synced, live_leader
):
    def runs(minutes):
        for job_id in ["hourly", "slow", "failing"]:
            for minute in minutes:
                DjangoJobExecution.objects.create(
                    job_id=job_id,
                    run_time=dt.datetime(2026, 3, 2, 10, minute, tzinfo=dt.UTC),
                    status=EXECUTED,
                    duration=1,
                )
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(CHANGELIST).status_code == 200
        return len(queries)

    assert runs(range(1)) == runs(range(1, 30))


def test_the_change_form_cannot_edit_next_run_time(admin_client, synced):
    before = DjangoJob.objects.get(id="hourly").next_run_time
    url = reverse("admin:django_apscheduler_djangojob_change", args=["hourly"])
    page = admin_client.get(url).content.decode()
    assert 'name="next_run_time' not in page
    admin_client.post(url, {"next_run_time_0": "2030-01-01", "next_run_time_1": "00:00:00"})
    assert DjangoJob.objects.get(id="hourly").next_run_time == before


def test_the_history_filters_by_job_and_status(admin_client, synced):
    DjangoJobExecution.objects.create(
        job_id="hourly", run_time=dt.datetime(2026, 3, 2, tzinfo=dt.UTC), status=FAILED
    )
    DjangoJobExecution.objects.create(
        job_id="slow", run_time=dt.datetime(2026, 3, 2, tzinfo=dt.UTC), status=INTERRUPTED
    )
    url = "/admin/django_apscheduler/djangojobexecution/"
    response = admin_client.get(url, {"status": INTERRUPTED})
    assert [e.job_id for e in response.context["cl"].result_list] == ["slow"]
    response = admin_client.get(url, {"job__id__exact": "hourly"})
    assert [e.job_id for e in response.context["cl"].result_list] == ["hourly"]


def test_the_history_shows_the_real_start_and_duration(admin_client, synced):
    execution = DjangoJobExecution.objects.create(
        job_id="hourly",
        run_time=dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC),
        status=EXECUTED,
        duration=2,
        finished=dt.datetime(2026, 3, 2, 10, 5, 2, tzinfo=dt.UTC).timestamp(),
    )
    url = reverse("admin:django_apscheduler_djangojobexecution_change", args=[execution.pk])
    html = admin_client.get(url).content.decode()
    assert "March 2, 2026, 10:05 a.m." in html or "2026-03-02 10:05:00" in html


def test_a_declared_job_cannot_be_deleted_from_the_admin(admin_client, synced):
    url = reverse("admin:django_apscheduler_djangojob_delete", args=["hourly"])
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 403
    assert DjangoJob.objects.filter(id="hourly").exists()


def test_the_job_list_offers_no_delete_action(admin_client, synced):
    response = admin_client.get(reverse("admin:django_apscheduler_djangojob_changelist"))
    assert "delete_selected" not in response.content.decode()


def test_the_job_list_and_page_show_an_unreadable_job_state(admin_client, synced):
    DjangoJob.objects.filter(id="hourly").update(job_state=b"\x80not json")
    listing = admin_client.get(CHANGELIST).content.decode()
    page = admin_client.get(f"{CHANGELIST}hourly/change/")
    assert "Unreadable: skipped until a scheduler restarts" in listing
    assert page.status_code == 200
    assert "unreadable job state" in page.content.decode()
