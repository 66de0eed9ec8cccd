import pytest
from playwright.sync_api import expect

from outreach.consent import marketing_headers
from outreach.models import EmailOutbox
from outreach.services.outbox import outbox_enqueue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_previews_a_dead_email_and_requeues_it(
    page, live_server, admin_login, screenshot
):
    row = outbox_enqueue(
        recipient="giulia@artists.example",
        template="upsell_welcome",
        context={"user": {"display_name": "Giulia", "username": "giulia"}},
        category="upsell",
        headers=marketing_headers("https://proletto.test/unsubscribe/x/"),
        idempotency_key="e2e:1",
    )
    EmailOutbox.objects.filter(pk=row.pk).update(
        status=EmailOutbox.Status.DEAD, attempts=8, last_error="gave up after retries: 503"
    )
    admin_login()

    page.goto(f"{live_server.url}/admin/outreach/emailoutbox/?status__exact=dead")
    page.click(f"#result_list a[href*='/{row.pk}/change/']")
    expect(page.locator("text=gave up after retries: 503")).to_be_visible()
    frame = page.frame_locator("iframe.outbox-preview")
    expect(frame.locator("text=Hi Giulia,")).to_be_visible()
    screenshot("-preview")

    page.goto(f"{live_server.url}/admin/outreach/emailoutbox/?status__exact=dead")
    page.check(f"input[name=_selected_action][value='{row.pk}']")
    page.select_option("select[name=action]", "requeue_dead")
    page.click("button[name=index]")
    expect(page.locator("text=1 email(s) requeued.")).to_be_visible()
    row.refresh_from_db()
    assert (row.status, row.attempts) == (EmailOutbox.Status.QUEUED, 0)
