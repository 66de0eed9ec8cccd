import pytest
from django.db import transaction

from outreach.consent import marketing_headers
from outreach.errors import OutboxError
from outreach.models import EmailOutbox
from outreach.services.events import suppression_add
from outreach.services.outbox import outbox_enqueue

pytestmark = pytest.mark.django_db


def enqueue(**overrides):
    kwargs = {
        "recipient": "ada@example.com",
        "template": "upsell_welcome",
        "context": {"user": {"username": "ada", "display_name": "Ada & Co"}},
        "category": "transactional",
        "idempotency_key": "welcome:1",
    }
    kwargs.update(overrides)
    return outbox_enqueue(**kwargs)


def test_it_renders_subject_text_and_html_at_enqueue_time():
    row = enqueue()
    assert row.status == EmailOutbox.Status.QUEUED
    assert row.subject == "Ada & Co, your next open call is waiting"
    assert "Hi Ada & Co," in row.body_text  # text bodies are not HTML-escaped
    assert "Hi Ada &amp; Co," in row.body_html
    assert row.next_attempt_at is not None


def test_the_same_idempotency_key_twice_yields_one_row():
    first = enqueue()
    second = enqueue(recipient="other@example.com")
    assert second.pk == first.pk
    assert EmailOutbox.objects.count() == 1


def test_it_writes_nothing_when_the_callers_transaction_rolls_back():
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue()
        raise RuntimeError("the change that caused the email failed")
    assert not EmailOutbox.objects.exists()


@pytest.mark.parametrize("address", ["not-an-address", "ada@", "ada@example.com\nBcc: x@y.z", ""])
def test_it_refuses_an_invalid_address(address):
    with pytest.raises(OutboxError, match="invalid email address"):
        enqueue(recipient=address)
    assert not EmailOutbox.objects.exists()


def test_it_refuses_a_header_with_a_newline():
    with pytest.raises(OutboxError, match="List-Unsubscribe contains a newline"):
        enqueue(headers={"List-Unsubscribe": "<https://x>\r\nBcc: victim@example.com"})
    assert not EmailOutbox.objects.exists()


def test_it_refuses_a_bad_header_name():
    with pytest.raises(OutboxError, match="invalid email header name"):
        enqueue(headers={"Bad Name:": "x"})


def test_it_refuses_a_missing_template():
    with pytest.raises(OutboxError, match="email template 'no_such_email' not found"):
        enqueue(template="no_such_email")
    assert not EmailOutbox.objects.exists()


def test_it_refuses_a_template_that_fails_to_render():
    class Broken:
        @property
        def display_name(self):
            raise RuntimeError("profile service down")

    with pytest.raises(OutboxError, match="failed to render: RuntimeError: profile service down"):
        enqueue(context={"user": Broken()})
    assert not EmailOutbox.objects.exists()


def test_it_refuses_an_unknown_category():
    with pytest.raises(OutboxError, match="unknown email category 'newsletter'"):
        enqueue(category="newsletter")


def test_it_refuses_a_template_name_that_walks_out_of_the_email_folder():
    with pytest.raises(OutboxError, match="invalid email template name"):
        enqueue(template="../admin/base")


def test_a_suppressed_address_is_recorded_as_suppressed_and_never_queued():
    suppression_add(address="Ada@Example.com", reason="hard bounce")
    row = enqueue()
    assert row.status == EmailOutbox.Status.SUPPRESSED
    assert row.next_attempt_at is None


def test_a_category_suppression_only_stops_that_category():
    suppression_add(address="ada@example.com", reason="unsubscribed", category="upsell")
    headers = marketing_headers("https://proletto.test/unsubscribe/x/")
    assert enqueue(category="upsell", headers=headers).status == EmailOutbox.Status.SUPPRESSED
    assert enqueue(idempotency_key="k2").status == EmailOutbox.Status.QUEUED


def test_it_refuses_a_subject_longer_than_a_mail_header_line():
    with pytest.raises(OutboxError, match="subject over 998 characters"):
        enqueue(context={"user": {"username": "a", "display_name": "x" * 1000}})
    assert not EmailOutbox.objects.exists()


def test_it_refuses_a_priority_out_of_range():
    with pytest.raises(OutboxError, match="priority must be a whole number"):
        enqueue(priority=10**6)
