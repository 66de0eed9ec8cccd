from io import StringIO

import pytest
from django.core.management import call_command

from billing.models import Subscription
from billing.selectors import pro_subscribers
from proletto.models import User

pytestmark = pytest.mark.django_db


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
