import pytest

from proletto.models import HealthCheckState
from proletto.scheduling.leadership import lease_acquire

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_admin_index_shows_a_failing_check_and_links_to_the_status_page(
    page, live_server, admin_login, screenshot
):
    from django.utils import timezone

    now = timezone.now()
    lease_acquire(holder="host-a:1:aa", seconds=600)
    HealthCheckState.objects.create(
        name="outbox backlog", status="failing", since=now, checked_at=now, summary="stuck"
    )
    admin_login()
    badge = page.locator("#health-badge")
    assert badge.inner_text().startswith("1 failing")
    assert "scheduler alive" in badge.inner_text()
    screenshot()
    badge.click()
    page.wait_for_selector("#checks")
    assert "outbox backlog" in page.locator("#checks").inner_text()


def test_the_admin_index_says_not_checked_yet_before_any_check(page, live_server, admin_login):
    admin_login()
    text = page.locator("#health-badge").inner_text()
    assert "not checked yet" in text and "scheduler never started" in text
