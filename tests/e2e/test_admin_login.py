import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_can_log_in_and_see_the_artist_list(page, live_server, admin_login, screenshot):
    admin_login()
    page.goto(f"{live_server.url}/admin/proletto/user/")
    assert page.locator("#result_list").is_visible()
    screenshot()
