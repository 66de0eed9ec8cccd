import pytest
from playwright.sync_api import expect

from outreach.models import EmailEvent
from proletto.inbox.services import inbox_process
from proletto.models import InboundEvent
from tests.outreach.test_webhooks import T1, auth

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_reads_a_held_event_confirms_a_replay_and_it_is_applied(
    page, live_server, admin_login, screenshot, client
):
    body = f'[{{"event": "delivered", "timestamp": {int(T1.timestamp())}, "sg_event_id": "e-1"}}]'
    response = client.post(
        "/anymail/sendgrid/tracking/", data=body, content_type="application/json", **auth()
    )
    assert response.status_code == 200
    stored = InboundEvent.objects.get()
    InboundEvent.objects.filter(pk=stored.pk).update(
        state="held", attempts=8, last_error="RuntimeError: the bug that was fixed since"
    )
    admin_login()

    page.goto(f"{live_server.url}/admin/proletto/inboundevent/?state__exact=held")
    page.click(f"#result_list a[href*='/{stored.pk}/change/']")
    expect(page.locator("text=the bug that was fixed since")).to_be_visible()
    expect(page.locator("text=e-1")).to_be_visible()  # the raw payload
    screenshot("-event")

    page.goto(f"{live_server.url}/admin/proletto/inboundevent/?state__exact=held")
    page.check(f"input[name=_selected_action][value='{stored.pk}']")
    page.select_option("select[name=action]", "replay")
    page.click("button[name=index]")
    expect(page.locator("text=Yes, replay 1 event(s)")).to_be_visible()
    screenshot("-confirm")
    page.click("text=Yes, replay 1 event(s)")
    expect(page.locator("text=1 event(s) queued to be applied again.")).to_be_visible()

    inbox_process()
    stored.refresh_from_db()
    assert stored.state == "applied"
    assert EmailEvent.objects.get().event_id == "e-1"
