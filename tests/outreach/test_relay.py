import random
import socket
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from outreach.models import EmailOutbox
from outreach.services import relay as relay_module
from outreach.services.events import suppression_add
from outreach.services.relay import OutboxRelay, backoff_delay, outbox_drain, outbox_reclaim_stuck
from outreach.services.relay_claims import outbox_claim_due
from outreach.services.relay_results import outbox_record_outcomes, outcome_of
from outreach.testing.fake_sendgrid import (
    DRIP,
    DROP,
    ERROR_500,
    ERROR_503,
    HANG,
    LATE,
    REJECT_400,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Status = EmailOutbox.Status


def refreshed(row):
    row.refresh_from_db()
    return row


def test_it_sends_a_queued_email_through_sendgrid_and_records_the_message_id(sendgrid, enqueue):
    row = enqueue(recipient="ada@example.com", headers={"X-Campaign": "welcome"})
    counts = outbox_drain()
    assert counts == {"claimed": 1, "sent": 1}
    row = refreshed(row)
    assert row.status == Status.SENT
    assert row.attempts == 1
    assert row.esp_name == "sendgrid"
    [accepted] = sendgrid.accepted
    # Anymail tracks SendGrid messages by the id it sends along; events come back with it.
    assert row.esp_message_id == accepted["anymail_id"]
    assert accepted["to"] == ["ada@example.com"]
    assert accepted["payload"]["headers"]["X-Campaign"] == "welcome"
    # returned by SendGrid with every event for this email
    assert accepted["payload"]["custom_args"]["outbox_id"] == str(row.id)
    assert {part["type"] for part in accepted["payload"]["content"]} == {"text/plain", "text/html"}


def test_every_email_goes_out_from_the_configured_sender_with_its_name(settings, sendgrid, enqueue):
    settings.DEFAULT_FROM_EMAIL = "Proletto Studio <hello@proletto.example>"
    enqueue(recipient="ada@example.com")
    enqueue(recipient="grace@example.com")
    outbox_drain()
    senders = [item["payload"]["from"] for item in sendgrid.accepted]
    assert senders == [{"email": "hello@proletto.example", "name": "Proletto Studio"}] * 2


def test_a_server_error_schedules_a_retry_with_backoff(sendgrid, enqueue):
    sendgrid.fail_next(1, ERROR_503)
    with time_machine.travel(T0, tick=False):
        row = enqueue()
        assert outbox_drain() == {"claimed": 1, "failed": 1}
    row = refreshed(row)
    assert row.status == Status.RETRY
    assert "503" in row.last_error
    # base 60 s with jitter between half and all of it
    assert T0 + timedelta(seconds=30) <= row.next_attempt_at <= T0 + timedelta(seconds=60)


def test_a_failed_email_is_not_retried_before_its_time(sendgrid, enqueue):
    sendgrid.fail_next(1, ERROR_500)
    with time_machine.travel(T0, tick=False):
        enqueue()
        outbox_drain()
    with time_machine.travel(T0 + timedelta(seconds=29), tick=False):
        assert outbox_drain() == {}
    assert sendgrid.accepted == []


def test_the_backoff_doubles_up_to_the_cap(settings):
    settings.EMAIL_RETRY_BASE_SECONDS = 10
    settings.EMAIL_RETRY_FACTOR = 2
    settings.EMAIL_RETRY_CAP_SECONDS = 100

    class Top(random.Random):
        def uniform(self, a, b):
            return b

    delays = [backoff_delay(attempt, rng=Top()).total_seconds() for attempt in range(1, 7)]
    assert delays == [10, 20, 40, 80, 100, 100]


def test_the_backoff_is_jittered_between_half_and_all_of_the_delay(settings):
    settings.EMAIL_RETRY_BASE_SECONDS = 100
    rng = random.Random(4)
    delays = {backoff_delay(1, rng=rng).total_seconds() for _ in range(50)}
    assert min(delays) >= 50 and max(delays) <= 100
    assert len(delays) > 40


def test_an_esp_that_fails_every_way_then_recovers_sends_every_email_exactly_once(
    sendgrid, enqueue
):
    with time_machine.travel(T0, tick=False):
        rows = [enqueue(recipient=f"artist{i}@example.com") for i in range(12)]
    sendgrid.fail_next(2, ERROR_500)
    sendgrid.fail_next(2, ERROR_503)
    sendgrid.fail_next(2, DROP)
    sendgrid.fail_next(1, HANG)
    sendgrid.hang_seconds = 0.8  # the client gives up after 0.5 s
    moment = T0
    for _ in range(6):
        with time_machine.travel(moment, tick=False):
            outbox_drain(concurrency=4)
        moment += timedelta(hours=1)
    statuses = {refreshed(row).status for row in rows}
    assert statuses == {Status.SENT}
    assert sendgrid.accepted_outbox_ids() == {str(row.id): 1 for row in rows}
    assert sum(refreshed(row).attempts > 1 for row in rows) == 7


def test_connection_refused_is_retried(settings, sendgrid, enqueue):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "SENDGRID_API_URL": f"http://127.0.0.1:{closed_port}/v3/",
    }
    with time_machine.travel(T0, tick=False):
        row = enqueue()
        assert outbox_drain() == {"claimed": 1, "failed": 1}
    assert refreshed(row).status == Status.RETRY
    assert "Connection" in row.last_error


def test_a_permanent_rejection_makes_the_email_dead_at_once(sendgrid, enqueue):
    sendgrid.fail_next(1, REJECT_400)
    row = enqueue()
    assert outbox_drain() == {"claimed": 1, "dead": 1}
    row = refreshed(row)
    assert row.status == Status.DEAD
    assert row.last_error.startswith("rejected: ")
    assert "not a verified Sender" in row.last_error


def test_it_gives_up_after_the_maximum_attempts(sendgrid, enqueue):
    sendgrid.fail_next(10, ERROR_500)
    moment = T0
    with time_machine.travel(moment, tick=False):
        row = enqueue()
    for _ in range(5):
        with time_machine.travel(moment, tick=False):
            outbox_drain()
        moment += timedelta(days=1)
    row = refreshed(row)
    assert row.status == Status.DEAD
    assert row.attempts == 5
    assert row.last_error.startswith("gave up after retries: ")
    with time_machine.travel(moment, tick=False):
        assert outbox_drain() == {}


def test_a_suppressed_address_is_not_sent_to(sendgrid, enqueue):
    row = enqueue(recipient="Bounced@Example.com")
    suppression_add(address="bounced@example.com", reason="hard bounce")
    assert outbox_drain() == {"claimed": 1, "suppressed": 1}
    assert refreshed(row).status == Status.SUPPRESSED
    assert sendgrid.accepted == []


def test_higher_priority_goes_out_first(settings, enqueue):
    low = enqueue(recipient="low@example.com")
    high = enqueue(recipient="high@example.com", priority=10)
    with OutboxRelay(batch_size=1, concurrency=1) as relay:
        relay.process_batch()
    assert refreshed(high).status == Status.SENT
    assert refreshed(low).status == Status.QUEUED


def test_a_row_stuck_in_sending_is_reclaimed_after_the_claim_timeout(settings, enqueue):
    settings.EMAIL_CLAIM_TIMEOUT_SECONDS = 600
    with time_machine.travel(T0, tick=False):
        row = enqueue()
        EmailOutbox.objects.filter(pk=row.pk).update(
            status=Status.SENDING, claimed_at=T0, attempts=0, claim_token="dead-relay"
        )
    with time_machine.travel(T0 + timedelta(seconds=599), tick=False):
        assert outbox_reclaim_stuck(now=T0 + timedelta(seconds=599)) == {"reclaimed": 0, "dead": 0}
    with time_machine.travel(T0 + timedelta(seconds=601), tick=False):
        counts = outbox_drain()
    assert counts == {"reclaimed": 1, "claimed": 1, "sent": 1}
    row = refreshed(row)
    assert row.status == Status.SENT
    assert row.attempts == 2
    assert len(mail.outbox) == 1


def test_a_row_a_dead_relay_held_counts_one_attempt_when_reclaimed(settings, enqueue):
    settings.EMAIL_CLAIM_TIMEOUT_SECONDS = 600
    with time_machine.travel(T0, tick=False):
        row = enqueue()
        outbox_claim_due(claim_token="killed-relay", limit=1, now=T0)
    outbox_reclaim_stuck(now=T0 + timedelta(seconds=601))
    assert refreshed(row).attempts == 1


def test_an_email_that_crashes_every_relay_is_dead_after_the_last_attempt(settings, enqueue):
    settings.EMAIL_CLAIM_TIMEOUT_SECONDS = 600
    settings.EMAIL_MAX_ATTEMPTS = 3
    with time_machine.travel(T0, tick=False):
        row = enqueue()
    now = T0
    for crash in range(3):
        with time_machine.travel(now, tick=False):
            assert outbox_claim_due(claim_token=f"relay-{crash}", limit=1, now=now)
        now += timedelta(seconds=601)
        outbox_reclaim_stuck(now=now)
    assert (refreshed(row).status, refreshed(row).attempts) == (Status.DEAD, 3)


def test_a_stopping_relay_gives_back_unsent_rows_without_using_an_attempt(sendgrid, enqueue):
    rows = [enqueue(recipient=f"artist{i}@example.com") for i in range(6)]
    asked = iter([False])
    with OutboxRelay(batch_size=6, concurrency=1, prefetch=5) as relay:
        relay.drain(should_stop=lambda: next(asked, True))
    states = {(refreshed(row).status, refreshed(row).attempts) for row in rows}
    assert states <= {(Status.SENT, 1), (Status.QUEUED, 0), (Status.RETRY, 0)}
    assert (Status.SENT, 1) in states and len(states) > 1


def test_a_stuck_row_with_no_attempts_left_is_dead(settings, enqueue):
    settings.EMAIL_MAX_ATTEMPTS = 3
    row = enqueue()
    EmailOutbox.objects.filter(pk=row.pk).update(
        status=Status.SENDING, claimed_at=T0, attempts=3, claim_token="dead-relay"
    )
    assert outbox_reclaim_stuck(now=T0 + timedelta(hours=1)) == {"reclaimed": 0, "dead": 1}
    assert refreshed(row).status == Status.DEAD


def test_one_batch_sends_more_rows_than_the_relay_has_senders(sendgrid, enqueue):
    rows = [enqueue(recipient=f"artist{i}@example.com") for i in range(5)]
    with OutboxRelay(batch_size=5, concurrency=2, prefetch=3) as relay:
        assert relay.process_batch() == {"claimed": 5, "sent": 5}
    assert sendgrid.accepted_outbox_ids() == {str(row.id): 1 for row in rows}


def test_a_result_is_not_recorded_over_a_claim_another_relay_took(settings, enqueue):
    row = enqueue()
    with OutboxRelay(batch_size=10, concurrency=1) as relay:
        [claimed] = outbox_claim_due(claim_token=relay.claim_token, limit=10, now=timezone.now())
        # Another relay took the row over (this one was presumed dead) and sent it.
        EmailOutbox.objects.filter(pk=row.pk).update(claim_token="other", status=Status.SENT)
        result = relay._send_one(claimed)
        counts = outbox_record_outcomes(
            claim_token=relay.claim_token,
            outcomes=[outcome_of(result, attempts=claimed.attempts, now=T0)],
            now=T0,
        )
    assert counts == {"lost_claim": 1}
    assert refreshed(row).claim_token == "other"


def test_development_backends_get_a_local_message_id(enqueue):
    row = enqueue()
    outbox_drain()
    row = refreshed(row)
    assert row.status == Status.SENT
    assert row.esp_message_id.startswith("local-")
    assert mail.outbox[0].to == ["ada@example.com"]
    assert mail.outbox[0].extra_headers["X-Proletto-Outbox-Id"] == str(row.id)


def test_cancelled_rows_are_never_sent(enqueue):
    row = enqueue()
    EmailOutbox.objects.filter(pk=row.pk).update(status=Status.CANCELLED)
    assert outbox_drain() == {}
    assert mail.outbox == []


def test_a_result_is_recorded_when_the_database_answers_again(monkeypatch, sendgrid, enqueue):
    from django.db import OperationalError

    row = enqueue()
    calls = []

    def record(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("the connection was terminated")
        return outbox_record_outcomes(**kwargs)

    monkeypatch.setattr(relay_module, "outbox_record_outcomes", record)
    with OutboxRelay(concurrency=1) as relay:
        counts = relay.drain()
    assert counts == {"claimed": 1, "sent": 1}
    assert refreshed(row).status == Status.SENT
    assert sendgrid.accepted_outbox_ids() == {str(row.id): 1}


def assert_recorded(rows, sendgrid):
    """Each row's result is recorded: sent once if the ESP took it, else given back (a sender
    had not started it when the relay stopped): none is left claimed to be sent again."""
    accepted = sendgrid.accepted_outbox_ids()
    for row in rows:
        expected = Status.SENT if str(row.id) in accepted else Status.QUEUED
        assert refreshed(row).status == expected
    assert set(accepted.values()) == {1}


def test_a_database_error_that_is_not_an_outage_stops_the_relay_naming_the_row_it_refuses(
    monkeypatch, caplog, sendgrid, enqueue
):
    from django.db import DataError

    refused, *others = [enqueue(recipient=f"artist{i}@example.com") for i in range(3)]
    # The others are still sending when the refused row's result fails to record.
    sendgrid.slow_recipients = {row.recipient: 0.2 for row in others}
    attempts = []

    def record(*, outcomes, **kwargs):
        attempts.append([outcome.id for outcome in outcomes])
        if refused.id in attempts[-1]:
            raise DataError("value too long for type character varying(200)")
        return outbox_record_outcomes(outcomes=outcomes, **kwargs)

    monkeypatch.setattr(relay_module, "outbox_record_outcomes", record)
    with pytest.raises(DataError), OutboxRelay(concurrency=3, prefetch=6) as relay:
        relay.drain()
    # Tried with its group, then alone: not retried as if the database were away.
    assert attempts.count([refused.id]) <= 2
    assert_recorded(others, sendgrid)
    assert refreshed(refused).status == Status.SENDING  # resent after the claim timeout
    assert f"rows with unrecorded results [{refused.id}] and rows in flight []" in caplog.text


# Not in a test transaction: the relay renews its connection to ride out the outage.
@pytest.mark.django_db(transaction=True)
def test_a_relay_stopping_on_a_refused_row_waits_out_a_brief_outage_to_record_the_others(
    monkeypatch, sendgrid, enqueue
):
    from django.db import DataError, OperationalError

    refused, *others = [enqueue(recipient=f"artist{i}@example.com") for i in range(3)]
    sendgrid.slow_recipients = {row.recipient: 0.2 for row in others}
    outages = []

    def record(*, outcomes, **kwargs):
        ids = [outcome.id for outcome in outcomes]
        if refused.id in ids:
            while sendgrid.requests < 3:  # every send under way: none is given back unsent
                time.sleep(0.01)
            outages.append("refused")
            raise DataError("value too long for type character varying(200)")
        if outages and len(outages) <= 2:  # the first two records after it: database away
            outages.append(ids)
            raise OperationalError("server closed the connection unexpectedly")
        return outbox_record_outcomes(outcomes=outcomes, **kwargs)

    monkeypatch.setattr(relay_module, "outbox_record_outcomes", record)
    with pytest.raises(DataError), OutboxRelay(concurrency=3, prefetch=6) as relay:
        relay.drain()
    assert len(outages) == 3  # the refusal, then two outages while settling
    assert [refreshed(row).status for row in others] == [Status.SENT, Status.SENT]
    assert sendgrid.accepted_outbox_ids() == {str(row.id): 1 for row in [refused, *others]}


def test_the_relay_claims_no_more_rows_than_its_senders_and_their_prefetch(sendgrid, enqueue):
    rows = [enqueue(recipient=f"artist{i}@example.com") for i in range(9)]
    with OutboxRelay(batch_size=100, concurrency=2, prefetch=3) as relay:
        relay._exchange(Counter(), claim=True)
        assert EmailOutbox.objects.filter(status=Status.SENDING).count() == 5
        relay.drain()
    assert {refreshed(row).status for row in rows} == {Status.SENT}


def test_a_timed_out_send_waits_for_the_esp_events_before_it_is_resent(settings, sendgrid, enqueue):
    settings.EMAIL_AMBIGUOUS_SETTLE_SECONDS = 600
    sendgrid.fail_next(1, LATE)
    sendgrid.late_seconds = 1.0  # the client gives up after 0.5 s; the ESP has the email
    with time_machine.travel(T0, tick=False):
        row = enqueue()
        assert outbox_drain() == {"claimed": 1, "ambiguous": 1}
    row = refreshed(row)
    assert row.status == Status.RETRY
    assert row.last_error.startswith("ambiguous: ")
    assert row.next_attempt_at >= T0 + timedelta(seconds=600)


def test_an_esp_request_that_drips_its_answer_ends_at_its_deadline(sendgrid, enqueue):
    sendgrid.fail_next(1, DRIP)
    sendgrid.drip_seconds = 0.2  # every byte well inside the 0.5 s read timeout
    row = enqueue()
    assert outbox_drain() == {"claimed": 1, "ambiguous": 1}
    assert "no complete answer from the ESP within 0.5 s" in refreshed(row).last_error


def test_while_results_wait_for_the_database_no_more_than_concurrency_emails_are_sent(
    monkeypatch, sendgrid, enqueue
):
    from django.db import OperationalError

    rows = [enqueue(recipient=f"artist{i}@example.com") for i in range(6)]
    requests_while_down = []

    def record(**kwargs):
        if len(requests_while_down) < 3:
            # The database refuses the results three times; meanwhile the claimed rows wait.
            requests_while_down.append(sendgrid.requests)
            raise OperationalError("the connection was terminated")
        return outbox_record_outcomes(**kwargs)

    monkeypatch.setattr(relay_module, "outbox_record_outcomes", record)
    with OutboxRelay(concurrency=2, prefetch=4) as relay:
        counts = relay.drain()
    assert requests_while_down[-1] == 2  # the kill -9 bound: sends + unrecorded <= 2
    assert counts["sent"] == 6
    assert sendgrid.accepted_outbox_ids() == {str(row.id): 1 for row in rows}


def test_a_stopping_relay_gives_back_the_rows_no_sender_started(sendgrid, enqueue):
    rows = [enqueue(recipient=f"artist{i}@example.com") for i in range(3)]
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) > 1  # stop right after the first claim

    with OutboxRelay(concurrency=1, prefetch=2) as relay:
        counts = relay.drain(should_stop=should_stop)
    assert counts["claimed"] == 3
    assert counts.get("sent", 0) + counts["given_back"] == 3
    # With one sender, the second and third rows cannot start before the first is recorded.
    for row in rows[1:]:
        row = refreshed(row)
        assert (row.status, row.attempts, row.claim_token) == (Status.QUEUED, 0, "")
    assert len(sendgrid.accepted) <= 1


def test_an_email_whose_id_is_past_32_bits_is_sent_and_recorded(sendgrid, enqueue):
    # Outbox ids are bigint: a result must be recordable for an id no 32-bit integer holds.
    row = enqueue(recipient="ada@example.com")
    EmailOutbox.objects.filter(pk=row.pk).update(id=2**31 + 7)
    # Bounded: a result the database refuses would otherwise be retried for ever.
    assert outbox_drain(max_seconds=20) == {"claimed": 1, "sent": 1}
    assert EmailOutbox.objects.get(pk=2**31 + 7).status == Status.SENT


def claim_plan(*, limit: int, now) -> dict:
    """The claim statement's plan ({node type: index names}), as PostgreSQL would run it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE outreach_emailoutbox")
    with CaptureQueriesContext(connection) as queries:
        outbox_claim_due(claim_token="relay", limit=limit, now=now)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {queries.captured_queries[0]['sql']}")
        plan = cursor.fetchone()[0]
    nodes, found = [plan[0]["Plan"]], {}
    while nodes:
        node = nodes.pop()
        found.setdefault(node["Node Type"], set()).add(node.get("Index Name"))
        nodes += node.get("Plans", [])
    return found


def waiting_emails(count: int, *, due_at, status=Status.QUEUED, key="backlog"):
    EmailOutbox.objects.bulk_create(
        EmailOutbox(
            recipient=f"artist{i}@example.com",
            subject="Your weekly opportunities",
            body_text="Hello",
            category="digest",
            status=status,
            idempotency_key=f"{key}:{i}",
            next_attempt_at=due_at,
        )
        for i in range(count)
    )


@pytest.mark.postgres
def test_a_claim_reads_a_long_due_backlog_in_its_own_order_without_sorting_it():
    waiting_emails(5000, due_at=T0)
    plan = claim_plan(limit=20, now=T0)
    assert "Sort" not in plan and "Seq Scan" not in plan, plan
    assert "outbox_due_order_idx" in plan.get("Index Scan", set()), plan


@pytest.mark.postgres
def test_a_claim_stops_at_now_when_many_retries_wait_for_later():
    # After an ESP outage: thousands of retries due later, a few rows due now. Read in claim
    # order, every waiting retry would be walked on each claim; read by due time, none is.
    waiting_emails(20_000, due_at=T0 + timedelta(hours=1), status=Status.RETRY)
    waiting_emails(10, due_at=T0, key="due")
    plan = claim_plan(limit=20, now=T0)
    indexes = plan.get("Index Scan", set()) | plan.get("Bitmap Index Scan", set())
    assert "outbox_due_idx" in indexes and "outbox_due_order_idx" not in indexes, plan
