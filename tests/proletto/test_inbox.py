import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django_apscheduler.models import DjangoJobExecution

from proletto.inbox.registry import DuplicateInboxSource, inbox_handlers
from proletto.inbox.services import (
    inbox_apply,
    inbox_claim,
    inbox_process,
    inbox_prune,
    inbox_replay,
    inbox_replay_failed,
    inbox_store,
    retry_delay,
)
from proletto.jobs import JOBS
from proletto.models import InboundEvent
from tests.proletto import inbox_handlers as test_module

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def test_handlers(settings):
    settings.INBOX_HANDLER_MODULES = ["tests.proletto.inbox_handlers"]
    test_module.applied.clear()
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def store(source="test:ok", body=b"one", **fields):
    return inbox_store(source=source, body=body, headers={}, signature="test", **fields)[0]


def state(event):
    event.refresh_from_db()
    return event.state


def test_a_stored_event_is_pending_and_due_at_once():
    event = store()
    assert (event.state, event.next_attempt_at, event.received_at) == ("pending", NOW, NOW)


def test_the_same_external_id_is_stored_once():
    first = store(external_id="evt_1", body=b"a")
    again, stored = inbox_store(
        source="test:ok", body=b"b", headers={}, signature="test", external_id="evt_1"
    )
    assert (again.pk, stored) == (first.pk, False)


def test_the_same_body_from_another_source_is_stored_again():
    store(source="test:ok")
    store(source="test:boom")
    assert InboundEvent.objects.count() == 2


def test_the_job_applies_events_in_arrival_order():
    for body in (b"1", b"2", b"3"):
        store(body=body)
    assert inbox_process(batch_size=2)["applied"] == 3
    assert test_module.applied == [b"1", b"2", b"3"]
    assert InboundEvent.objects.get(body=b"2").outcome == "applied 2"


def test_an_applied_event_is_not_applied_again_by_the_next_run():
    store()
    inbox_process()
    assert inbox_process()["applied"] == 0
    assert test_module.applied == [b"one"]


def test_a_failed_event_is_retried_with_exponential_backoff(test_handlers, settings):
    settings.INBOX_RETRY_BASE_SECONDS = 60
    event = store(source="test:boom")
    inbox_process()
    event.refresh_from_db()
    assert (event.state, event.attempts, event.next_attempt_at) == (
        "failed",
        1,
        NOW + dt.timedelta(seconds=60),
    )
    assert "RuntimeError: handler bug" in event.last_error
    assert inbox_process()["failed"] == 0  # not due yet
    test_handlers.move_to(NOW + dt.timedelta(seconds=60))
    inbox_process()
    event.refresh_from_db()
    assert (event.attempts, event.next_attempt_at) == (2, NOW + dt.timedelta(seconds=180))


def test_the_backoff_is_capped(settings):
    settings.INBOX_RETRY_BASE_SECONDS = 60
    settings.INBOX_RETRY_CAP_SECONDS = 3600
    assert retry_delay(20) == dt.timedelta(hours=1)


def test_after_max_attempts_the_event_is_held_for_a_replay(test_handlers, settings):
    settings.INBOX_MAX_ATTEMPTS = 3
    event = store(source="test:boom")
    for minute in range(0, 600, 10):
        test_handlers.move_to(NOW + dt.timedelta(minutes=minute))
        inbox_process()
    event.refresh_from_db()
    assert (event.state, event.attempts, event.next_attempt_at) == ("held", 3, None)


def test_a_payload_the_handler_cannot_parse_is_rejected_with_the_reason_at_once():
    event = store(source="test:unparsable")
    assert inbox_process()["rejected"] == 1
    event.refresh_from_db()
    assert (event.state, event.last_error) == ("rejected", "rejected: not a payload we know")


def test_an_event_of_a_source_without_handler_fails_and_says_so():
    event = store(source="test:unknown")
    inbox_process()
    assert state(event) == "failed"
    assert "no inbox handler is registered for source 'test:unknown'" in event.last_error


def test_an_event_claimed_by_a_process_that_died_is_taken_again_after_the_claim_time(
    test_handlers, settings
):
    event = store()
    [claimed] = inbox_claim(now=NOW, batch_size=10)  # ...and the process dies
    assert inbox_process()["applied"] == 0
    test_handlers.move_to(NOW + dt.timedelta(seconds=settings.INBOX_CLAIM_SECONDS))
    assert inbox_process()["applied"] == 1
    assert state(event) == "applied"


def test_a_process_whose_claim_expired_does_not_apply_it_a_second_time(test_handlers, settings):
    store()
    [stale] = inbox_claim(now=NOW, batch_size=10)
    test_handlers.move_to(NOW + dt.timedelta(seconds=settings.INBOX_CLAIM_SECONDS))
    inbox_process()  # another process takes it over and applies it
    assert inbox_apply(event=stale) == "lost"
    assert test_module.applied == [b"one"]


def test_replay_queues_failed_held_rejected_and_applied_events_but_not_pending_ones():
    events = {name: store(body=name.encode()) for name in ("failed", "held", "rejected")}
    events["applied"] = store(body=b"applied")
    events["pending"] = store(body=b"pending")
    for name in ("failed", "held", "rejected", "applied"):
        InboundEvent.objects.filter(pk=events[name].pk).update(state=name, attempts=5)
    assert inbox_replay(ids=[e.pk for e in events.values()]) == 4
    for event in events.values():
        event.refresh_from_db()
        assert (event.state, event.next_attempt_at) == ("pending", NOW)
    assert events["held"].attempts == 0


def test_replay_all_failed_takes_failed_and_held_events_only():
    failed, held, rejected = store(body=b"f"), store(body=b"h"), store(body=b"r")
    for event, name in ((failed, "failed"), (held, "held"), (rejected, "rejected")):
        InboundEvent.objects.filter(pk=event.pk).update(state=name)
    assert inbox_replay_failed() == 2
    assert (state(failed), state(held), state(rejected)) == ("pending", "pending", "rejected")


def test_prune_deletes_old_applied_and_rejected_events_in_batches(settings):
    settings.INBOX_RETENTION_DAYS = 30
    old = NOW - dt.timedelta(days=31)
    for index in range(5):
        event = store(body=f"old-{index}".encode())
        InboundEvent.objects.filter(pk=event.pk).update(received_at=old, state="applied")
    kept = {name: store(body=name.encode()) for name in ("failed-old", "held-old", "applied-new")}
    InboundEvent.objects.filter(pk=kept["failed-old"].pk).update(received_at=old, state="failed")
    InboundEvent.objects.filter(pk=kept["held-old"].pk).update(received_at=old, state="held")
    InboundEvent.objects.filter(pk=kept["applied-new"].pk).update(state="applied")
    assert inbox_prune(batch_size=2) == 5
    assert set(InboundEvent.objects.values_list("pk", flat=True)) == {
        event.pk for event in kept.values()
    }


def test_process_inbox_runs_every_minute_and_prune_inbox_hourly():
    jobs = {job.id: job for job in JOBS}
    assert jobs["process_inbox"].trigger.interval == dt.timedelta(minutes=1)
    assert jobs["prune_inbox"].trigger.interval == dt.timedelta(hours=1)


def test_the_apps_register_stripe_and_every_anymail_tracking_source(settings):
    settings.INBOX_HANDLER_MODULES = None
    sources = set(inbox_handlers())
    assert {"stripe", "anymail:sendgrid:tracking", "anymail:mailgun:inbound"} <= sources
    assert "anymail:amazon_ses:tracking" not in sources  # Anymail's own view (SNS)


def test_a_source_declared_twice_is_an_error(settings):
    settings.INBOX_HANDLER_MODULES = [
        "tests.proletto.inbox_handlers",
        "tests.proletto.inbox_handlers",
    ]
    with pytest.raises(DuplicateInboxSource):
        inbox_handlers()


def test_runjob_process_inbox_applies_the_stored_events_and_records_the_run():
    event = store()
    call_command("runjob", "process_inbox", stdout=StringIO())
    assert state(event) == "applied"
    assert DjangoJobExecution.objects.get(job__id="process_inbox").status == "Executed"
