from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.models import Subscription
from billing.selectors import pro_subscribers
from proletto.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def debug(settings, monkeypatch):
    settings.DEBUG = True  # as `make demo` runs it
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)


def test_load_demo_refuses_with_debug_off_and_writes_nothing(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off") as refused:
        call_command("load_demo", stdout=StringIO())
    assert refused.value.returncode == 1
    assert not User.objects.exists()


def test_load_demo_forced_with_debug_off_sets_a_random_admin_password(settings):
    settings.DEBUG = False
    out = StringIO()
    call_command("load_demo", "--force", stdout=out)
    password = out.getvalue().rsplit("admin / ", 1)[1].strip()
    admin = User.objects.get(username="admin")
    assert password != "proletto-admin" and len(password) >= 20
    assert admin.check_password(password)


def test_load_demo_in_debug_keeps_the_documented_password():
    out = StringIO()
    call_command("load_demo", stdout=out)
    assert "Admin login: admin / proletto-admin" in out.getvalue()


def test_load_demo_twice_gives_the_same_data():
    call_command("load_demo", stdout=StringIO())
    counts = (User.objects.count(), Subscription.objects.count())
    out = StringIO()
    call_command("load_demo", stdout=out)
    assert (User.objects.count(), Subscription.objects.count()) == counts
    assert "Admin login: admin / " in out.getvalue()


def test_demo_has_pro_and_free_artists_in_several_time_zones():
    call_command("load_demo", stdout=StringIO())
    artists = User.objects.filter(is_staff=False)
    assert artists.values("timezone").distinct().count() >= 5
    assert 0 < pro_subscribers().count() < artists.count()


def test_rundemo_runs_the_stripe_stand_in_and_points_the_app_at_it_not_at_stripe(monkeypatch):
    from proletto.management.commands.rundemo import Command

    monkeypatch.setenv("STRIPE_API_BASE", "")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_someone_elses")
    monkeypatch.setenv("DEMO_STRIPE_PORT", "12111")
    processes, environment = Command().processes("127.0.0.1:8123")
    assert set(processes) == {"web", "scheduler", "stripe"}
    assert processes["stripe"][1:3] == ["-m", "billing.testing.fake_stripe"]
    assert "http://127.0.0.1:8123/billing/stripe/webhook/" in processes["stripe"]
    assert environment["STRIPE_API_BASE"] == "http://127.0.0.1:12111"
    assert environment["STRIPE_SECRET_KEY"] == "sk_test_demo_local_stand_in"
    assert environment["SITE_URL"] == "http://127.0.0.1:8123"
    secret = processes["stripe"][processes["stripe"].index("--webhook-secret") + 1]
    assert environment["STRIPE_WEBHOOK_SECRET"] == secret


@pytest.mark.slow
def test_the_demos_stripe_process_answers_checkout_through_the_stripe_library(monkeypatch):
    import socket
    import subprocess

    import stripe

    from proletto.management.commands.rundemo import Command

    with socket.socket() as probe:  # a free port for the stand-in's fixed-port process
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("DEMO_STRIPE_PORT", str(port))
    processes, environment = Command().processes("127.0.0.1:8123")
    process = subprocess.Popen(
        processes["stripe"], env=environment, stdout=subprocess.PIPE, text=True
    )
    try:
        assert "local Stripe stand-in on" in process.stdout.readline()
        client = stripe.StripeClient(
            environment["STRIPE_SECRET_KEY"],
            base_addresses={"api": environment["STRIPE_API_BASE"]},
            max_network_retries=0,
        )
        session = client.v1.checkout.sessions.create(
            params={
                "mode": "subscription",
                "line_items": [{"price": "price_demo_pro_monthly", "quantity": 1}],
                "success_url": "http://127.0.0.1:8123/pro/success/",
                "cancel_url": "http://127.0.0.1:8123/pro/cancel/",
            }
        )
        assert session.url.startswith(f"http://127.0.0.1:{port}/checkout/")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_demo_pro_plans_are_for_sale_at_pro():
    from billing.services.checkout import pro_plans

    call_command("load_demo", stdout=StringIO())
    assert [plan.code for plan in pro_plans()] == ["pro", "studio"]
