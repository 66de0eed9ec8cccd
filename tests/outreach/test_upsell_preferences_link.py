"""Upsell emails get the artist's own "manage preferences" link and a /pro/ link naming their
account in their context (the templates place them, issue 16); a probe template shows what
the context holds."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from outreach.models import EmailOutbox, UpsellSequence, UpsellStep
from outreach.services.upsell import upsell_process_due, upsell_session_start
from proletto.preferences_link import read_preferences_token

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def probe_template(settings, tmp_path):
    folder = tmp_path / "email" / "upsell_probe"
    folder.mkdir(parents=True)
    (folder / "subject.txt").write_text("Probe")
    (folder / "body.txt").write_text("Preferences: {{ preferences_url }}\nPro: {{ pro_url }}")
    engine = settings.TEMPLATES[0]
    settings.TEMPLATES = [{**engine, "DIRS": [tmp_path, *engine["DIRS"]]}]
    return "upsell_probe"


def test_an_upsell_email_carries_the_artists_own_preferences_link(
    probe_template, django_user_model, settings
):
    giulia = django_user_model.objects.create_user(username="giulia", email="g@artists.test")
    sequence = UpsellSequence.objects.create(
        code="probe", name="Probe", duration=timedelta(days=14)
    )
    UpsellStep.objects.create(
        sequence=sequence, position=1, delay=timedelta(0), template=probe_template
    )
    upsell_session_start(user=giulia, sequence_code="probe", now=T0)
    with time_machine.travel(T0, tick=False):
        upsell_process_due()
    body = EmailOutbox.objects.get(recipient="g@artists.test").body_text
    link, pro = re.fullmatch(r"Preferences: (\S+)\nPro: (\S+)\s*", body).groups()
    assert link.startswith(f"{settings.SITE_URL}/preferences/")
    assert pro.startswith(f"{settings.SITE_URL}/pro/?account=")
    with time_machine.travel(T0, tick=False):
        assert read_preferences_token(link.rstrip("/").rsplit("/", 1)[1]) == giulia.pk
        assert read_preferences_token(pro.split("=", 1)[1]) == giulia.pk
