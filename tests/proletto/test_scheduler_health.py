import datetime as dt

import pytest
from django.utils import timezone

from proletto.models import SchedulerInstance
from proletto.scheduling.jobstore import jobs_sync
from proletto.scheduling.leadership import instance_beat, instance_forget, instances_prune
from proletto.scheduling.selectors import scheduler_status

pytestmark = pytest.mark.django_db


def test_healthz_is_ok_with_a_fresh_leader_heartbeat(client, live_leader):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["ok"] is True


def test_healthz_scheduler_is_503_without_a_leader(client):
    response = client.get("/healthz/scheduler")
    assert response.status_code == 503
    assert response.json() == {"ok": False, "scheduler": "never started"}


def test_healthz_does_not_name_the_leader(client, live_leader):
    assert live_leader not in client.get("/healthz").content.decode()


def test_admin_system_needs_staff(client):
    response = client.get("/admin/system")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_admin_system_reports_leader_and_jobs(admin_client, scheduler_jobs_declared, live_leader):
    jobs_sync()
    body = admin_client.get("/admin/system").json()
    assert body["ok"] is True
    assert body["leader"] == live_leader
    assert body["heartbeat_age_seconds"] is not None
    assert "utc_time" in body
    jobs = {job["id"]: job for job in body["scheduler_jobs"]}
    assert set(jobs) == {"hourly", "hourly_skip", "failing", "slow"}
    assert jobs["hourly"]["next_run_time"] is not None
    assert jobs["hourly"]["last_run_status"] is None


def test_admin_system_is_503_when_the_scheduler_is_down(admin_client):
    response = admin_client.get("/admin/system")
    assert response.status_code == 503
    assert response.json()["scheduler_alive"] is False


def test_the_status_counts_live_standbys_but_not_the_leader_or_dead_ones(live_leader):
    now = timezone.now()
    for holder in (live_leader, "standby-1", "standby-2"):
        instance_beat(holder=holder, now=now)
    instance_beat(holder="killed-long-ago", now=now - dt.timedelta(minutes=5))
    assert scheduler_status(with_jobs=False)["standbys"] == 2


def test_a_stopped_scheduler_is_no_longer_counted(live_leader):
    instance_beat(holder="standby-1")
    instance_forget(holder="standby-1")
    assert scheduler_status(with_jobs=False)["standbys"] == 0


def test_processes_not_seen_for_a_day_are_pruned(live_leader):
    now = timezone.now()
    instance_beat(holder="fresh", now=now)
    instance_beat(holder="gone", now=now - dt.timedelta(days=2))
    assert instances_prune(now=now) == 1
    assert list(SchedulerInstance.objects.values_list("holder", flat=True)) == ["fresh"]
