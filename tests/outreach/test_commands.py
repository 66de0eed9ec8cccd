import signal
import time
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from outreach.models import EmailOutbox

from .processes import manage


@pytest.mark.django_db
def test_process_outbox_drains_once_and_reports_counts(enqueue):
    enqueue()
    enqueue(recipient="bob@example.com")
    out = StringIO()
    call_command("process_outbox", stdout=out)
    assert "outbox drained: claimed 2, sent 2" in out.getvalue()
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_process_outbox_with_nothing_due_says_so():
    out = StringIO()
    call_command("process_outbox", stdout=out)
    assert "nothing due" in out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args, message",
    [
        (["--batch-size=0"], "--batch-size must be at least 1"),
        (["--concurrency=-1"], "--concurrency must be at least 1"),
        (["--loop", "--idle-seconds=0"], "--idle-seconds must be more than 0"),
    ],
)
def test_process_outbox_refuses_bad_arguments(args, message, enqueue):
    row = enqueue()
    with pytest.raises(CommandError, match=message):
        call_command("process_outbox", *args, stdout=StringIO())
    row.refresh_from_db()
    assert row.status == EmailOutbox.Status.QUEUED


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_relay_loop_sends_new_email_and_stops_cleanly_on_sigterm(enqueue):
    relay = manage("process_outbox", "--loop", "--idle-seconds=0.2")
    try:
        assert "started" in relay.stdout.readline()
        row = enqueue()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            row.refresh_from_db()
            if row.status == EmailOutbox.Status.SENT:
                break
            time.sleep(0.1)  # waiting for another process, not for a clock
        assert row.status == EmailOutbox.Status.SENT
        relay.send_signal(signal.SIGTERM)
        out, err = relay.communicate(timeout=30)
    finally:
        if relay.poll() is None:
            relay.kill()
    assert relay.returncode == 0, err
    assert "outbox relay stopped" in out


@pytest.mark.django_db
def test_the_relay_loop_survives_a_database_error(monkeypatch, caplog):
    from django.db import OperationalError

    from outreach.management.commands import process_outbox
    from outreach.services.relay import OutboxRelay

    calls = []

    def drain(self, *, should_stop=None, max_seconds=None):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        command.stopping.set()
        return {}

    command = process_outbox.Command(stdout=StringIO())
    monkeypatch.setattr(OutboxRelay, "drain", drain)
    monkeypatch.setattr(process_outbox.signal, "signal", lambda *args: None)
    call_command(command, "--loop", "--idle-seconds=0.01")
    assert len(calls) == 2
    assert "database error (server closed the connection unexpectedly), trying again" in caplog.text
