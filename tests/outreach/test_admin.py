import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from outreach.models import EmailOutbox, Suppression

pytestmark = pytest.mark.django_db

Status = EmailOutbox.Status
CHANGELIST = "/admin/outreach/emailoutbox/"


def set_status(row, status, **fields):
    EmailOutbox.objects.filter(pk=row.pk).update(status=status, **fields)
    row.refresh_from_db()
    return row


def test_the_outbox_list_costs_the_same_queries_for_many_rows(admin_client, enqueue):
    enqueue()
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(CHANGELIST).status_code == 200
    for i in range(30):
        enqueue(recipient=f"artist{i}@example.com")
    with CaptureQueriesContext(connection) as many:
        assert admin_client.get(CHANGELIST).status_code == 200
    assert len(many) == len(few)


def test_the_outbox_list_filters_by_status_and_category_and_searches_recipients(
    admin_client, enqueue
):
    enqueue(recipient="ada@example.com", category="upsell")
    set_status(enqueue(recipient="bob@example.com"), Status.DEAD)
    page = admin_client.get(CHANGELIST, {"status__exact": "dead"}).content.decode()
    assert "bob@example.com" in page and "ada@example.com" not in page
    page = admin_client.get(CHANGELIST, {"category__exact": "upsell"}).content.decode()
    assert "ada@example.com" in page and "bob@example.com" not in page
    page = admin_client.get(CHANGELIST, {"q": "bob@"}).content.decode()
    assert "bob@example.com" in page and "ada@example.com" not in page


def test_the_change_page_previews_the_html_in_a_sandboxed_frame(admin_client, enqueue):
    row = enqueue(context={"user": {"username": "<b>ada</b>"}})
    page = admin_client.get(f"{CHANGELIST}{row.pk}/change/").content.decode()
    assert '<iframe sandbox="" srcdoc="' in page
    # The email's HTML is escaped into the attribute, never inlined into the admin page.
    assert "&amp;lt;b&amp;gt;ada" in page


def run_action(admin_client, action, rows):
    return admin_client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [row.pk for row in rows]},
        follow=True,
    )


def test_retry_now_queues_failed_email_for_the_next_pass(admin_client, enqueue):
    failed = set_status(enqueue(), Status.RETRY, next_attempt_at=None, attempts=2)
    sent = set_status(enqueue(), Status.SENT)
    response = run_action(admin_client, "retry_now", [failed, sent])
    text = response.content.decode()
    assert "1 email(s) queued to send now." in text
    assert "1 email(s) skipped" in text
    failed.refresh_from_db()
    assert failed.status == Status.QUEUED and failed.next_attempt_at is not None
    sent.refresh_from_db()
    assert sent.status == Status.SENT


def test_cancel_stops_an_unsent_email(admin_client, enqueue):
    row = enqueue()
    run_action(admin_client, "cancel", [row])
    row.refresh_from_db()
    assert row.status == Status.CANCELLED


def test_requeue_dead_gives_fresh_attempts(admin_client, enqueue):
    row = set_status(enqueue(), Status.DEAD, attempts=8, next_attempt_at=None)
    run_action(admin_client, "requeue_dead", [row])
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.QUEUED, 0)


def test_the_suppression_list_is_editable_and_lowercases_addresses(admin_client):
    response = admin_client.post(
        "/admin/outreach/suppression/add/",
        {"address": "Ada@Example.COM", "category": "", "reason": "asked by phone"},
    )
    assert response.status_code == 302
    assert Suppression.objects.get().address == "ada@example.com"


def test_a_bad_suppression_address_is_a_form_error(admin_client):
    response = admin_client.post(
        "/admin/outreach/suppression/add/",
        {"address": "not an address", "category": "", "reason": "x"},
    )
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
    assert not Suppression.objects.exists()


def test_upsell_sessions_list_does_not_query_per_row(admin_client, django_user_model):
    from datetime import timedelta

    from django.utils import timezone

    from outreach.models import UpsellSequence, UpsellSession

    sequence = UpsellSequence.objects.create(code="s", name="S", duration=timedelta(days=14))

    def add(n):
        for i in range(n):
            user = django_user_model.objects.create_user(username=f"u{n}-{i}")
            UpsellSession.objects.create(
                user=user, sequence=sequence, started_at=timezone.now(), deadline=timezone.now()
            )

    add(1)
    with CaptureQueriesContext(connection) as few:
        admin_client.get("/admin/outreach/upsellsession/")
    add(20)
    with CaptureQueriesContext(connection) as many:
        admin_client.get("/admin/outreach/upsellsession/")
    assert len(many) == len(few)


def test_staff_with_view_permission_only_get_no_outbox_actions(client, django_user_model):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_emailoutbox"))
    client.force_login(viewer)
    page = client.get("/admin/outreach/emailoutbox/").content.decode()
    assert "requeue_dead" not in page
