import pytest

from digests.models import DigestEmail
from digests.services.digest import digests_send_due
from outreach.models import Suppression
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
    DigestEmail.objects.filter(user__username__in=["p0", "p1"]).update(opened_at=NOW)
    DigestEmail.objects.filter(user__username="p0").update(clicked_at=NOW)


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


def test_the_digest_list_costs_the_same_queries_for_more_rows(
    admin_client, digests, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        admin_client.get("/admin/digests/digestemail/")


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


def test_resend_as_test_queues_a_test_digest(admin_client, digests):
    digest = DigestEmail.objects.get(user__username="p3")
    admin_client.post(
        "/admin/digests/digestemail/",
        {"action": "resend_as_test", "_selected_action": [digest.pk]},
    )
    assert DigestEmail.objects.filter(user=digest.user, status=DigestEmail.Status.TEST).count() == 1


def test_the_admin_resend_says_why_it_did_not_queue_a_suppressed_address(admin_client, digests):
    user = User.objects.get(username="p1")
    Suppression.objects.create(address=user.email, reason="complained: spam report")
    digest = DigestEmail.objects.get(user=user)
    response = admin_client.post(
        "/admin/digests/digestemail/",
        {"action": "resend_as_test", "_selected_action": [digest.pk]},
        follow=True,
    )
    messages = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert messages == [("error", f"{user.email} is suppressed (complained: spam report)")]
    assert not DigestEmail.objects.filter(status=DigestEmail.Status.TEST).exists()
