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
