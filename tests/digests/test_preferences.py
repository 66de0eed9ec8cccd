import datetime as dt
import re

import pytest
import time_machine
from django.test import Client

from digests.models import DigestEmail
from digests.services.digest import digests_send_due
from outreach.models import EmailOutbox
from proletto.preferences_link import preferences_token, preferences_url
from tests.digests.digest_data import NOW, artist, opportunity

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def form_data(**changes):
    data = {
        "mediums": ["sculpture", "installation"],
        "interests": "Ecology, public space",
        "country": "GH",
        "timezone": "Africa/Accra",
        "digest": "on",
        "pause_weeks": "",
    }
    data.update(changes)
    return data


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def test_the_link_opens_the_artists_own_preferences(client):
    giulia = artist("giulia")
    response = client.get(path_of(preferences_url(giulia.pk)))
    assert response.status_code == 200
    assert b"giulia@artists.test" in response.content
    assert b'value="painting" id="id_mediums_' in response.content  # checkbox present
    assert response["Cache-Control"].startswith("max-age=0")


def test_the_page_offers_the_kinds_of_opportunity_and_keeps_them_as_interests(client):
    giulia = artist("giulia", interests=["residency", "ecology"])
    url = path_of(preferences_url(giulia.pk))
    page = client.get(url).content.decode()
    assert re.search(r'value="residency" id="id_kinds_\d+"[^>]* checked', page)
    assert 'value="grant" id="id_kinds_' in page
    client.post(url, form_data(kinds=["grant", "residency"], interests="ecology"))
    giulia.refresh_from_db()
    assert sorted(giulia.interests) == ["ecology", "grant", "residency"]


def test_saving_changes_mediums_interests_country_and_time_zone(client):
    giulia = artist("giulia")
    url = path_of(preferences_url(giulia.pk))
    response = client.post(url, form_data())
    assert response.status_code == 302
    assert response["Location"] == f"{url}?saved=1"
    giulia.refresh_from_db()
    assert giulia.mediums == ["installation", "sculpture"]
    assert giulia.interests == ["ecology", "public space"]
    assert (giulia.country, giulia.timezone) == ("GH", "Africa/Accra")


def test_pausing_for_two_weeks_skips_exactly_the_next_two_weekly_runs(client):
    opportunity(mediums=["sculpture"])
    giulia = artist("giulia")
    client.post(path_of(preferences_url(giulia.pk)), form_data(digest="paused", pause_weeks="2"))
    giulia.refresh_from_db()
    assert giulia.digest_paused_until == NOW + dt.timedelta(weeks=2)
    for week in (0, 1):
        assert digests_send_due(now=NOW + dt.timedelta(weeks=week))["users"] == 0
    digests_send_due(now=NOW + dt.timedelta(weeks=2))
    assert DigestEmail.objects.filter(user=giulia).count() == 1


def test_turning_the_digest_off_takes_the_artist_out_of_the_weekly_run(client):
    opportunity()
    giulia = artist("giulia")
    client.post(path_of(preferences_url(giulia.pk)), form_data(digest="off"))
    assert digests_send_due(now=NOW)["users"] == 0


def test_pausing_without_a_number_of_weeks_is_a_form_error_and_changes_nothing(client):
    giulia = artist("giulia")
    response = client.post(path_of(preferences_url(giulia.pk)), form_data(digest="paused"))
    assert response.status_code == 400
    assert b"how many weeks" in response.content
    giulia.refresh_from_db()
    assert giulia.mediums == ["painting"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("mediums", ["watercolour-on-toast"]), ("timezone", "Mars/Olympus"), ("country", "XX")],
)
def test_bad_values_are_form_errors_and_change_nothing(client, field, value):
    giulia = artist("giulia")
    response = client.post(path_of(preferences_url(giulia.pk)), form_data(**{field: value}))
    assert response.status_code == 400
    assert b"errorlist" in response.content
    giulia.refresh_from_db()
    assert (giulia.mediums, giulia.timezone, giulia.country) == (["painting"], "Europe/Rome", "IT")


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing():
    giulia = artist("giulia")
    response = Client(enforce_csrf_checks=True).post(
        path_of(preferences_url(giulia.pk)), form_data()
    )
    assert response.status_code == 403
    giulia.refresh_from_db()
    assert giulia.mediums == ["painting"]


def test_a_post_with_the_csrf_token_from_the_page_is_accepted():
    giulia = artist("giulia")
    browser = Client(enforce_csrf_checks=True)
    url = path_of(preferences_url(giulia.pk))
    page = browser.get(url).content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert browser.post(url, {**form_data(), "csrfmiddlewaretoken": csrf}).status_code == 302


def test_one_artists_link_cannot_change_another_artist(client):
    giulia, kwame = artist("giulia"), artist("kwame")
    value, timestamp, signature = preferences_token(giulia.pk).split(":")
    forged = f"{kwame.pk}:{timestamp}:{signature}"
    response = client.post(f"/preferences/{forged}/", form_data())
    assert response.status_code == 400
    # Fields naming someone else in the form are not read either.
    own_link = path_of(preferences_url(giulia.pk))
    client.post(own_link, {**form_data(), "id": kwame.pk, "user": kwame.pk})
    kwame.refresh_from_db()
    assert kwame.mediums == ["painting"]


def test_an_expired_link_says_so_and_changes_nothing(client, settings):
    settings.PREFERENCES_LINK_MAX_AGE_DAYS = 30
    giulia = artist("giulia")
    url = path_of(preferences_url(giulia.pk))
    with time_machine.travel(NOW + dt.timedelta(days=31), tick=False):
        response = client.post(url, form_data())
    assert response.status_code == 400
    assert b"expired" in response.content
    giulia.refresh_from_db()
    assert giulia.mediums == ["painting"]


def test_a_link_to_a_deactivated_account_opens_nothing(client):
    giulia = artist("giulia", is_active=False)
    assert client.get(path_of(preferences_url(giulia.pk))).status_code == 400


def test_every_digest_carries_the_readers_own_preferences_link(client):
    opportunity()
    giulia, kwame = artist("giulia"), artist("kwame")
    digests_send_due(now=NOW)
    for user in (giulia, kwame):
        outbox = EmailOutbox.objects.get(recipient=user.email)
        text_link = re.search(r"Manage email preferences: (\S+)", outbox.body_text).group(1)
        assert f'href="{text_link}"' in outbox.body_html
        response = client.get(path_of(text_link))
        assert response.status_code == 200
        assert user.email.encode() in response.content


def test_the_page_shows_what_the_artist_is_subscribed_to(client):
    giulia = artist("giulia", digest_paused_until=NOW + dt.timedelta(days=9))
    page = client.get(path_of(preferences_url(giulia.pk))).content.decode()
    assert "<strong>Pro</strong> (active)" in page
    assert "paused until 2 December 2026" in page
