from django.core.checks import run_checks


def deploy_ids():
    return {problem.id for problem in run_checks(include_deployment_checks=True)}


def test_deploy_check_fails_without_the_stripe_webhook_secret(settings):
    settings.STRIPE_SECRET_KEY, settings.STRIPE_WEBHOOK_SECRET = "sk_live_x", ""
    assert "billing.E002" in deploy_ids()


def test_deploy_check_fails_when_stripe_calls_go_to_a_stand_in(settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:12111"
    assert "billing.E003" in deploy_ids()


def test_deploy_check_is_quiet_about_stripe_when_it_is_configured(settings):
    settings.STRIPE_SECRET_KEY, settings.STRIPE_WEBHOOK_SECRET = "sk_live_x", "whsec_x"
    settings.STRIPE_API_BASE = ""
    assert not {i for i in deploy_ids() if i.startswith("billing.")}


def test_a_preferences_link_that_never_works_is_refused(settings):
    settings.PREFERENCES_LINK_MAX_AGE_DAYS = 0
    assert "proletto.E003" in {problem.id for problem in run_checks()}
