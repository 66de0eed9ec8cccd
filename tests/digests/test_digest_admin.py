import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from digests.models import DigestEmail
from digests.services.digest import digests_send_due
from outreach.models import EmailOutbox, Suppression
from proletto.models import User
from tests.digests.digest_data import NOW, artist, opportunity

pytestmark = pytest.mark.django_db


@pytest.fixture
def digests():
    for i in range(6):
        opportunity(f"Painting call {i}")
    for i in range(5):
        artist(f"p{i}")
    digests_send_due(now=NOW)
    EmailOutbox.objects.filter(user__username__in=["p0", "p1"]).update(opened_at=NOW)
    EmailOutbox.objects.filter(user__username="p0").update(clicked_at=NOW)


def test_the_digest_list_shows_open_and_click_rates_per_week(admin_client, digests):
    response = admin_client.get("/admin/digests/digestemail/")
    assert response.status_code == 200
    rates = response.context["weekly_rates"]
    assert rates == [
        {
            "week_start": NOW.date(),
            "sent": 5,
            "opened": 2,
            "clicked": 1,
            "open_rate": 0.4,
            "click_rate": 0.2,
        }
    ]
    assert b"40% / 20%" in response.content


def test_the_digest_list_costs_the_same_queries_for_more_rows(admin_client, digests):
    def list_queries():
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get("/admin/digests/digestemail/")
        assert response.status_code == 200
        return len(queries)

    few = list_queries()
    for i in range(5, 40):
        artist(f"p{i}")
    digests_send_due(now=NOW)
    assert DigestEmail.objects.count() == 40
    assert list_queries() == few


def test_the_digest_list_shows_each_emails_delivery_as_the_outbox_has_it(admin_client, digests):
    EmailOutbox.objects.filter(user__username="p0").update(
        status=EmailOutbox.Status.SENT, sent_at=NOW
    )
    EmailOutbox.objects.filter(user__username="p1").update(status=EmailOutbox.Status.DEAD)
    response = admin_client.get("/admin/digests/digestemail/?delivery=sent")
    assert [d.user.username for d in response.context["cl"].result_list] == ["p0"]
    response = admin_client.get("/admin/digests/digestemail/?delivery=failed")
    assert [d.user.username for d in response.context["cl"].result_list] == ["p1"]
    assert b"Failed" in response.content


def test_a_digest_shows_why_each_item_was_picked(admin_client, digests):
    digest = DigestEmail.objects.first()
    response = admin_client.get(f"/admin/digests/digestemail/{digest.pk}/change/")
    assert b"medium: painting" in response.content


def test_preview_renders_the_digest_html_for_any_user(admin_client, digests):
    artist("free", pro=False)
    response = admin_client.get("/admin/digests/digestemail/preview/?user=free")
    assert response.status_code == 200
    assert b"Painting call" in response.content
    assert DigestEmail.objects.filter(user__username="free").count() == 0


def test_preview_for_an_unknown_user_says_so(admin_client, digests):
    response = admin_client.get("/admin/digests/digestemail/preview/?user=nobody", follow=True)
    (message,) = [str(m) for m in response.context["messages"]]
    assert message.startswith("no user 'nobody'")


def resend(client, *digests, confirmed=True):
    data = {"action": "resend_as_test", "_selected_action": [d.pk for d in digests]}
    if confirmed:
        data["post"] = "yes"
    return client.post("/admin/digests/digestemail/", data)


def test_resend_as_test_first_asks_and_sends_nothing(admin_client, digests):
    chosen = list(DigestEmail.objects.filter(user__username__in=["p3", "p4"]))
    response = resend(admin_client, *chosen, confirmed=False)
    page = response.content.decode()
    assert "Email 2 test digest(s) now" in page
    assert "p3 (digest #" in page and "p4 (digest #" in page
    assert 'value="Yes, send 2 test digest(s)"' in page
    assert not DigestEmail.objects.filter(status=DigestEmail.Status.TEST).exists()


def test_resend_as_test_queues_a_test_digest_once_confirmed(admin_client, digests):
    digest = DigestEmail.objects.get(user__username="p3")
    resend(admin_client, digest)
    test = DigestEmail.objects.get(user=digest.user, status=DigestEmail.Status.TEST)
    assert test.requested_by.username == "admin"


def test_the_admin_resend_says_why_it_did_not_queue_a_suppressed_address(admin_client, digests):
    user = User.objects.get(username="p1")
    Suppression.objects.create(address=user.email, reason="complained: spam report")
    digest = DigestEmail.objects.get(user=user)
    response = admin_client.post(
        "/admin/digests/digestemail/",
        {"action": "resend_as_test", "_selected_action": [digest.pk], "post": "yes"},
        follow=True,
    )
    messages = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert messages == [("error", "p1's address is suppressed (complained: spam report)")]
    assert not DigestEmail.objects.filter(status=DigestEmail.Status.TEST).exists()


def test_resend_as_test_stops_at_the_staff_users_hourly_limit(admin_client, digests, settings):
    settings.TEST_DIGEST_LIMIT_PER_HOUR = 2
    response = resend(admin_client, *DigestEmail.objects.all())
    messages = [str(m) for m in response.wsgi_request._messages]
    assert DigestEmail.objects.filter(status=DigestEmail.Status.TEST).count() == 2
    assert messages[0] == "2 test digest(s) queued."
    assert "sent 2 test digests in the last hour" in messages[1]
