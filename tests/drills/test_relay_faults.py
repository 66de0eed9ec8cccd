"""Drills of the outbox relay's promise, one send per email, under the faults of issue #14:
database connections terminated, the database unreachable, relays killed with kill -9, an ESP
that accepts after the relay gave up, an ESP that drips its answer, slow recipients. Real
`process_outbox --loop` processes on PostgreSQL behind tests/faults.py's proxy and the fake
SendGrid, which counts copies per outbox id. Figures: test-artifacts/drills.json.

Small sizes in `make test`; RELAY_DRILL_FULL=1 (`make drills`) runs the issue's sizes."""

import signal
import time

import pytest

from outreach.models import EmailOutbox
from outreach.testing.fake_sendgrid import DRIP, LATE, FakeSendGrid
from tests.drills.relay_drill import (
    CONCURRENCY,
    copies,
    pending,
    post_tracking_events,
    queue_emails,
    sent_count,
    size,
    start_relay,
    stop_relays,
    wait_until,
)
from tests.drills.scheduler_drill import record_figures
from tests.faults import DatabaseProxy

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    # SendGrid is the seeds' production ESP; Anymail's "unsupported" notice is in the README.
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]


@pytest.fixture
def proxy():
    with DatabaseProxy() as database:
        yield database


def assert_relays_stopped_cleanly(outcomes):
    for code, err in outcomes:
        assert code == 0, err[-3000:]


def test_terminated_connections_cause_no_resend_and_lose_nothing(proxy):
    emails = size(600, 3000)
    queue_emails(emails)
    with FakeSendGrid(latency=0.05) as esp:
        relays = [start_relay(esp, proxy.database_url()) for _ in range(3)]
        try:
            for cut in range(1, 4):
                wait_until(
                    lambda c=cut: sent_count() >= emails * c // 4, timeout=120, what="progress"
                )
                proxy.cut()  # every relay connection ends, as a PostgreSQL restart does
            wait_until(lambda: pending() == 0, timeout=300, what="every email sent")
        finally:
            outcomes = stop_relays(relays)
        figures = copies(esp)
    assert_relays_stopped_cleanly(outcomes)
    record_figures("relay_connections_terminated", {**figures, "relays": 3, "cuts": 3})
    assert figures["duplicates"] == 0, figures
    assert figures["never_sent"] == 0 and figures["dead"] == 0, figures


def test_a_database_unreachable_for_15_seconds_causes_no_resend(proxy):
    emails = size(800, 2000)
    queue_emails(emails)
    with FakeSendGrid(latency=0.05) as esp:
        relays = [start_relay(esp, proxy.database_url()) for _ in range(2)]
        try:
            wait_until(lambda: sent_count() >= emails // 4, timeout=120, what="progress")
            proxy.stop()  # connections cut, new ones refused
            time.sleep(15)  # the length of the outage (the fault itself, not a wait for a clock)
            proxy.start()
            wait_until(lambda: pending() == 0, timeout=300, what="every email sent")
        finally:
            outcomes = stop_relays(relays)
        figures = copies(esp)
    assert_relays_stopped_cleanly(outcomes)
    logs = "\n".join(err for _code, err in outcomes)
    figures["outage_log_lines"] = logs.count("database unavailable")
    figures["recovery_log_lines"] = logs.count("database available again")
    record_figures("relay_database_unreachable_15s", figures)
    assert figures["duplicates"] == 0, figures
    assert figures["never_sent"] == 0 and figures["dead"] == 0, figures
    # One line per relay for the outage and one for the recovery, not a traceback per poll.
    assert figures["outage_log_lines"] == 2 and figures["recovery_log_lines"] == 2, logs[-3000:]
    assert "Traceback" not in logs, logs[-3000:]


def test_kill_9_resends_at_most_what_was_in_flight(proxy):
    emails = size(800, 2000)
    kills = 3
    queue_emails(emails)
    # The killed relay's rows come back soon (four ESP deadlines, system check E003).
    env = {"EMAIL_CLAIM_TIMEOUT_SECONDS": 4, "EMAIL_TIMEOUT": 1}
    with FakeSendGrid(latency=0.05) as esp:
        relays = [start_relay(esp, proxy.database_url(), **env) for _ in range(2)]
        try:
            for kill in range(1, kills + 1):
                wait_until(
                    lambda k=kill: sent_count() >= emails * k // (kills + 1),
                    timeout=120,
                    what="progress",
                )
                relays[0].send_signal(signal.SIGKILL)
                relays[0].wait(timeout=30)
                relays[0] = start_relay(esp, proxy.database_url(), **env)
            wait_until(lambda: pending() == 0, timeout=300, what="every email sent")
        finally:
            outcomes = stop_relays(relays)
        figures = copies(esp)
    assert_relays_stopped_cleanly(outcomes)
    record_figures(
        "relay_kill_9", {**figures, "kills": kills, "concurrency": CONCURRENCY, "relays": 2}
    )
    assert figures["duplicates"] <= kills * CONCURRENCY, figures
    assert figures["never_sent"] == 0 and figures["dead"] == 0, figures


def test_an_esp_accepting_after_the_timeout_gets_at_most_one_extra_copy(proxy):
    emails = 40
    queue_emails(emails)
    env = {"EMAIL_TIMEOUT": 1, "EMAIL_AMBIGUOUS_SETTLE_SECONDS": 6}
    with FakeSendGrid(latency=0.01, late_seconds=3) as esp:  # answers after 3x EMAIL_TIMEOUT
        esp.fail_next(emails, LATE)
        relays = [start_relay(esp, proxy.database_url(), **env) for _ in range(2)]
        reported_at: dict[str, float] = {}
        position = 0
        try:
            deadline = time.monotonic() + 180
            while pending() and time.monotonic() < deadline:
                # The ESP's `processed` events reach the webhook a little after it accepts.
                events, position = esp.processed_events(after=position)
                post_tracking_events(events)
                for event in events:
                    reported_at.setdefault(event["outbox_id"], time.monotonic())
                time.sleep(0.5)
        finally:
            outcomes = stop_relays(relays)
        figures = copies(esp)
        after_event = sum(
            1
            for outbox_id, times in esp.accepted_at().items()
            for at in times
            if outbox_id in reported_at and at > reported_at[outbox_id]
        )
    assert_relays_stopped_cleanly(outcomes)
    figures["copies_after_processed_event"] = after_event
    record_figures("relay_esp_accepts_late", figures)
    assert pending() == 0
    assert figures["most_copies"] <= 2, figures
    assert after_event == 0, figures
    assert figures["never_sent"] == 0, figures


def test_sigterm_stops_a_relay_within_its_grace_while_the_esp_drips(proxy):
    timeout = 2
    queue_emails(3 * CONCURRENCY)
    with FakeSendGrid(drip_seconds=1) as esp:
        esp.fail_next(1000, DRIP)
        relay = start_relay(esp, proxy.database_url(), EMAIL_TIMEOUT=timeout)
        wait_until(lambda: esp.requests >= CONCURRENCY, timeout=60, what="sends dripping")
        relay.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        # The grace is one ESP deadline (EMAIL_TIMEOUT) plus recording what it learnt.
        [(code, err)] = stop_relays([relay], timeout=timeout + 5 + 10)
        exit_seconds = round(time.monotonic() - stopped_at, 2)
    record_figures(
        "relay_dripping_esp_sigterm",
        {"email_timeout_s": timeout, "exit_after_sigterm_s": exit_seconds},
    )
    assert code == 0, err[-3000:]
    assert exit_seconds <= timeout + 5, exit_seconds
    assert not EmailOutbox.objects.filter(status=EmailOutbox.Status.SENDING).exists()


def test_slow_recipients_do_not_hold_up_the_others(proxy):
    emails = size(400, 1000)
    slow = 17 if emails >= 1000 else 7
    queue_emails(emails)
    step = emails // slow
    slow_addresses = {f"artist{i * step}@example.com": 1.0 for i in range(slow)}
    fast = emails - len(slow_addresses)

    def fast_span(esp) -> float:
        times = [item["at"] for item in esp.accepted if item["to"][0] not in slow_addresses]
        return max(times) - min(times)

    with FakeSendGrid(latency=0.05) as alone:
        EmailOutbox.objects.filter(recipient__in=list(slow_addresses)).update(
            status=EmailOutbox.Status.CANCELLED
        )
        relay = start_relay(alone, proxy.database_url())
        try:
            wait_until(lambda: pending() == 0, timeout=300, what="the fast emails alone")
        finally:
            assert_relays_stopped_cleanly(stop_relays([relay]))
        time_alone = fast_span(alone)

    EmailOutbox.objects.all().delete()
    queue_emails(emails, prefix="drill-mixed")
    with FakeSendGrid(latency=0.05, slow_recipients=slow_addresses) as mixed:
        relay = start_relay(mixed, proxy.database_url())
        try:
            wait_until(lambda: pending() == 0, timeout=300, what="every email sent")
        finally:
            assert_relays_stopped_cleanly(stop_relays([relay]))
        time_mixed = fast_span(mixed)
        figures = copies(mixed)
    ratio = round(time_mixed / time_alone, 2)
    record_figures(
        "relay_slow_recipients",
        {
            "emails": emails,
            "slow": len(slow_addresses),
            "fast": fast,
            "fast_alone_s": round(time_alone, 2),
            "fast_with_slow_s": round(time_mixed, 2),
            "ratio": ratio,
            "duplicates": figures["duplicates"],
        },
    )
    assert figures["duplicates"] == 0, figures
    assert ratio <= 1.5, ratio
