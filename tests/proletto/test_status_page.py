import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from proletto.models import HealthAlert, HealthCheckState

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def states():
    for name, status in [
        ("database", "ok"),
        ("outbox backlog", "warning"),
        ("scheduler", "failing"),
    ]:
        HealthCheckState.objects.create(
            name=name,
            status=status,
            since=NOW,
            checked_at=NOW,
            summary=f"{name} <b>is</b> {status}",
        )
    HealthAlert.objects.create(
        name="scheduler", from_status="ok", to_status="failing", summary="down", created_at=NOW
    )


def test_staff_see_checks_worst_first_with_escaped_text(admin_client, states):
    response = admin_client.get("/admin/system/status/")
    assert response.status_code == 200
    names = [state.name for state in response.context["checks"]]
    assert names == ["scheduler", "outbox backlog", "database"]
    assert b"scheduler &lt;b&gt;is&lt;/b&gt; failing" in response.content


def test_the_admin_index_links_to_the_status_page(admin_client):
    assert b'href="/admin/system/status/"' in admin_client.get("/admin/").content


def test_non_staff_are_sent_to_the_login_page(client, django_user_model):
    django_user_model.objects.create_user("artist", password="pw-123456789")
    client.login(username="artist", password="pw-123456789")
    response = client.get("/admin/system/status/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_without_the_view_system_permission_get_a_403(client, staff_with_permissions):
    client.force_login(staff_with_permissions("django_apscheduler.view_djangojob"))
    assert client.get("/admin/system/status/").status_code == 403


def test_anonymous_users_are_sent_to_the_login_page(client):
    response = client.get("/admin/system/status/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_admin_system_json_includes_the_checks_summary(admin_client, states):
    body = admin_client.get("/admin/system").json()
    assert body["checks"]["failing"] == ["scheduler"]
    assert body["checks"]["warning"] == ["outbox backlog"]
    assert body["checks"]["ok"] == 1


def test_healthz_names_no_check_and_no_secret(client, states):
    response = client.get("/healthz")
    assert response.json() == {"ok": True}
    assert "SECRET" not in response.content.decode()


def test_the_status_page_costs_the_same_queries_for_3_or_30_checks_and_alerts(admin_client, states):
    def page_queries():
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get("/admin/system/status/").status_code == 200
        return len(queries)

    few = page_queries()
    for i in range(27):
        HealthCheckState.objects.create(
            name=f"source: {i}", status="warning", since=NOW, checked_at=NOW, summary="slow"
        )
        HealthAlert.objects.create(
            name=f"source: {i}", from_status="ok", to_status="failing", summary="x", created_at=NOW
        )
    assert page_queries() == few


@pytest.fixture
def crashing_health(settings):
    settings.HEALTH_CHECK_MODULES = ["tests.proletto.health_crashing"]


def test_a_tile_that_raises_shows_as_failing_and_the_page_still_answers(
    admin_client, crashing_health
):
    response = admin_client.get("/admin/system/status/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="tile-queue_tile"' in html and "st-failing" in html
    assert "tile crashed: ZeroDivisionError: division by zero" in html
    assert "second line" not in html
    assert "3 waiting" in html  # the other tiles still show


def test_a_tile_that_raises_is_logged_with_its_traceback(admin_client, crashing_health, caplog):
    with caplog.at_level("ERROR", logger="proletto.monitoring"):
        admin_client.get("/admin/system/status/")
    [record] = [r for r in caplog.records if "queue_tile" in r.getMessage()]
    assert record.exc_info and record.exc_info[0] is ZeroDivisionError
