import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from proletto.inbox.services import inbox_store
from proletto.models import InboundEvent

pytestmark = pytest.mark.django_db

LIST = "/admin/proletto/inboundevent/"
REPLAY_FAILED = "/admin/proletto/inboundevent/replay-failed/"


def store(body=b'{"id": "evt_1"}', state="pending", source="stripe", kind="invoice.paid"):
    event = inbox_store(source=source, kind=kind, body=body, headers={}, signature="test")[0]
    InboundEvent.objects.filter(pk=event.pk).update(state=state, last_error="boom")
    return event


@pytest.fixture
def staff(client, django_user_model):
    def make(*codenames):
        user = django_user_model.objects.create_user(username="-".join(codenames), is_staff=True)
        user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
        client.force_login(user)
        return client

    return make


def replay(client, *events, confirmed):
    data = {"action": "replay", "_selected_action": [e.pk for e in events]}
    if confirmed:
        data["post"] = "yes"
    return client.post(LIST, data)


def test_the_list_filters_by_source_type_and_state(admin_client):
    store(body=b"1", state="failed")
    store(body=b"2", source="anymail:sendgrid:tracking", kind="tracking")
    page = admin_client.get(LIST, {"state": "failed"}).content.decode()
    assert "1 inbound event" in page
    filters = admin_client.get(LIST).content.decode()
    for link in ("?source=stripe", "?kind=tracking", "?state__exact=held"):
        assert link in filters


def test_the_change_page_shows_the_raw_payload_and_the_error(admin_client):
    event = store(body=b'{"id": "evt_42", "type": "invoice.paid"}', state="failed")
    page = admin_client.get(f"{LIST}{event.pk}/change/").content.decode()
    assert "&quot;evt_42&quot;" in page
    assert "boom" in page


def test_the_list_makes_the_same_queries_for_3_or_30_events(admin_client):
    for index in range(3):
        store(body=str(index).encode())
    with CaptureQueriesContext(connection) as few:
        admin_client.get(LIST)
    for index in range(3, 30):
        store(body=str(index).encode())
    with CaptureQueriesContext(connection) as many:
        admin_client.get(LIST)
    assert len(many) == len(few)


def test_replay_asks_for_confirmation_first_and_changes_nothing(staff):
    client = staff("view_inboundevent", "replay_inboundevent")
    event = store(state="held")
    response = replay(client, event, confirmed=False)
    assert response.status_code == 200
    assert "Yes, replay 1 event(s)" in response.content.decode()
    event.refresh_from_db()
    assert event.state == "held"


def test_replay_once_confirmed_queues_the_events(staff):
    client = staff("view_inboundevent", "replay_inboundevent")
    event = store(state="held")
    response = replay(client, event, confirmed=True)
    assert response.status_code == 302
    event.refresh_from_db()
    assert (event.state, event.attempts) == ("pending", 0)


def test_staff_without_the_replay_permission_cannot_replay(staff):
    client = staff("view_inboundevent")
    event = store(state="held")
    page = client.get(LIST).content.decode()
    assert 'value="replay"' not in page
    assert "Replay all failed" not in page
    replay(client, event, confirmed=True)
    event.refresh_from_db()
    assert event.state == "held"
    assert client.get(REPLAY_FAILED).status_code == 403
    assert client.post(REPLAY_FAILED).status_code == 403


def test_replay_all_failed_confirms_then_queues_failed_and_held_events(staff):
    client = staff("view_inboundevent", "replay_inboundevent")
    failed, held, rejected = store(b"f", "failed"), store(b"h", "held"), store(b"r", "rejected")
    page = client.get(REPLAY_FAILED).content.decode()
    assert "Yes, replay 2 event(s)" in page
    assert failed.state == "pending"  # as stored; the page changed nothing:
    assert InboundEvent.objects.filter(state="pending").count() == 0
    assert client.post(REPLAY_FAILED).status_code == 302
    states = dict(InboundEvent.objects.values_list("pk", "state"))
    assert states == {failed.pk: "pending", held.pk: "pending", rejected.pk: "rejected"}


def test_the_inbox_cannot_be_edited_in_the_admin(admin_client):
    event = store(state="failed")
    admin_client.post(f"{LIST}{event.pk}/change/", {"state": "applied"})
    event.refresh_from_db()
    assert event.state == "failed"
