import re
from contextlib import contextmanager

import pytest
from django.db import connection
from django.utils import timezone

from outreach.models import EmailOutbox
from outreach.testing.fake_sendgrid import FakeSendGrid

from .processes import manage

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def queued_emails(count: int) -> list[EmailOutbox]:
    now = timezone.now()
    return EmailOutbox.objects.bulk_create(
        EmailOutbox(
            recipient=f"artist{i}@example.com",
            subject=f"Hello {i}",
            body_text="Hello",
            category="transactional",
            idempotency_key=f"load:{i}",
            next_attempt_at=now,
        )
        for i in range(count)
    )


def test_two_relay_processes_drain_2000_rows_without_duplicates_or_losses():
    queued_emails(2000)
    with FakeSendGrid(latency=0.02) as esp:
        relays = [
            manage(
                "process_outbox",
                "--batch-size=50",
                "--concurrency=8",
                EMAIL_ESP="sendgrid",
                SENDGRID_API_KEY="SG.test",
                SENDGRID_API_URL=esp.api_url,
            )
            for _ in range(2)
        ]
        outputs = [relay.communicate(timeout=180) for relay in relays]
        accepted = esp.accepted_outbox_ids()

    for relay, (_out, err) in zip(relays, outputs, strict=True):
        assert relay.returncode == 0, err
    sent_by_relay = [int(re.search(r"sent (\d+)", out).group(1)) for out, _ in outputs]
    ids = {str(pk) for pk in EmailOutbox.objects.values_list("id", flat=True)}
    assert set(accepted) == ids  # nothing lost
    assert set(accepted.values()) == {1}  # nothing sent twice
    assert sum(sent_by_relay) == 2000
    assert min(sent_by_relay) > 0  # both relays really shared the work
    assert set(EmailOutbox.objects.values_list("status", flat=True)) == {"sent"}


@contextmanager
def database_objects(create: str, *, drop: str):
    """Triggers and the like for one test (created by `create`, gone after it by `drop`)."""
    with connection.cursor() as cursor:
        cursor.execute(create)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(drop)


def relay_process_run():
    """One process_outbox run to its end against a fake SendGrid: (process, stderr, the
    emails the ESP accepted per outbox id)."""
    with FakeSendGrid(latency=0.02) as esp:
        relay = manage(
            "process_outbox",
            "--batch-size=20",
            "--concurrency=8",
            EMAIL_ESP="sendgrid",
            SENDGRID_API_KEY="SG.test",
            SENDGRID_API_URL=esp.api_url,
        )
        _out, err = relay.communicate(timeout=120)
        return relay, err, esp.accepted_outbox_ids()


def assert_only_the_refused_row_is_left(refused: int, accepted) -> None:
    statuses = dict(EmailOutbox.objects.values_list("id", "status"))
    assert statuses.pop(refused) == "sending"  # left to the claim timeout: sent again then
    sent = {pk for pk, status in statuses.items() if status == "sent"}
    # Every email the ESP took is recorded; none was sent twice.
    assert {str(pk) for pk in sent} == set(accepted) - {str(refused)}
    assert set(accepted.values()) == {1}
    assert set(statuses.values()) <= {"sent", "queued"}  # the rest given back unsent


def test_a_relay_process_stopped_by_a_row_the_database_refuses_records_every_other_result():
    rows = queued_emails(40)
    refused = rows[7].id
    # A row the database will not mark sent (as a constraint it violates would): its whole
    # group's statement fails, which is no outage, so the relay stops.
    created = f"""
            CREATE FUNCTION refuse_one_row() RETURNS trigger AS $$
            BEGIN
                IF NEW.id = {refused} AND NEW.status = 'sent' THEN
                    RAISE EXCEPTION 'row refused' USING ERRCODE = 'check_violation';
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER refuse_one_row BEFORE UPDATE ON outreach_emailoutbox
                FOR EACH ROW EXECUTE FUNCTION refuse_one_row();
            """
    with database_objects(
        created,
        drop="DROP TRIGGER refuse_one_row ON outreach_emailoutbox; DROP FUNCTION refuse_one_row()",
    ):
        relay, err, accepted = relay_process_run()

    assert relay.returncode != 0
    assert f"rows with unrecorded results [{refused}] and rows in flight []" in err
    assert_only_the_refused_row_is_left(refused, accepted)


def test_a_relay_process_stopping_on_a_refused_row_rides_out_its_connection_cut_while_settling():
    rows = queued_emails(40)
    refused = rows[7].id
    # As above, and once the row was refused, the relay's connection is cut (its backend
    # terminated) on the next two results it records alone: an outage during the settle.
    # Sequences count across the rolled-back statements.
    created = f"""
            CREATE SEQUENCE drill_refusals;
            CREATE SEQUENCE drill_cuts;
            CREATE FUNCTION refuse_then_cut() RETURNS trigger AS $$
            BEGIN
                IF NEW.status <> 'sent' THEN
                    RETURN NEW;
                END IF;
                IF NEW.id = {refused} THEN
                    PERFORM nextval('drill_refusals');
                    RAISE EXCEPTION 'row refused' USING ERRCODE = 'check_violation';
                END IF;
                IF (SELECT is_called FROM drill_refusals)
                    AND (SELECT CASE WHEN is_called THEN last_value ELSE 0 END
                         FROM drill_cuts) < 2 THEN
                    PERFORM nextval('drill_cuts');
                    PERFORM pg_terminate_backend(pg_backend_pid());
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER refuse_then_cut BEFORE UPDATE ON outreach_emailoutbox
                FOR EACH ROW EXECUTE FUNCTION refuse_then_cut();
            """
    dropped = (
        "DROP TRIGGER refuse_then_cut ON outreach_emailoutbox; DROP FUNCTION refuse_then_cut(); "
        "DROP SEQUENCE drill_refusals, drill_cuts"
    )
    with database_objects(created, drop=dropped):
        relay, err, accepted = relay_process_run()
        with connection.cursor() as cursor:
            cursor.execute("SELECT last_value FROM drill_cuts")
            cuts = cursor.fetchone()[0]

    assert relay.returncode != 0
    assert cuts == 2, err  # the connection was cut twice while the others were recorded
    assert_only_the_refused_row_is_left(refused, accepted)
