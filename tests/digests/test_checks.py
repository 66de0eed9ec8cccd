from digests.checks import check_scrape_settings


def test_the_default_scrape_settings_pass():
    assert check_scrape_settings(None) == []


def test_a_zero_timeout_fails_the_checks(settings):
    settings.SCRAPE_TIMEOUT_SECONDS = 0
    (error,) = check_scrape_settings(None)
    assert error.id == "digests.E001"
    assert error.msg == "SCRAPE_TIMEOUT_SECONDS=0 must be a positive number."


def test_an_empty_user_agent_fails_the_checks(settings):
    settings.SCRAPE_USER_AGENT = " "
    assert [error.id for error in check_scrape_settings(None)] == ["digests.E008"]
