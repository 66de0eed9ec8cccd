import pytest

from proletto.models import HealthAlert
from proletto.monitoring.services import health_run
from proletto.scheduling.jobstore import jobs_sync
from proletto.scheduling.leadership import lease_acquire

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_opens_the_status_page_from_the_admin_index(
    page, live_server, admin_login, screenshot, settings
):
    settings.ADMINS = [("Ops", "ops@proletto.test")]
    jobs_sync()
    health_run()  # the scheduler is down: a failing check and an alert
    lease_acquire(holder="host-a", seconds=60)
    admin_login()
    page.click("text=open the dashboard")
    page.wait_for_selector("#checks")
    assert "alive" in page.locator("#tile-scheduler").inner_text().lower()
    assert page.locator("#checks tbody tr").first.inner_text().lower().startswith("failing")
    assert "maintenance_bot" in page.locator("#jobs").inner_text()
    assert HealthAlert.objects.filter(name="scheduler", to_status="failing").exists()
    assert "scheduler" in page.locator("#alerts").inner_text()
    screenshot()
