import datetime as dt

import pytest
import time_machine

from proletto.inbox.services import inbox_store
from proletto.models import CheckStatus, InboundEvent
from proletto.monitoring import checks
from proletto.monitoring.registry import health_checks

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
OK, WARNING, FAILING = CheckStatus.OK, CheckStatus.WARNING, CheckStatus.FAILING


def inbox_results():
    return {r.name: r for r in checks.check_inbox(NOW)}


def event(n, *, minutes_ago=0, state="pending"):
    with time_machine.travel(NOW - dt.timedelta(minutes=minutes_ago), tick=False):
        stored = inbox_store(source="stripe", body=str(n).encode(), headers={}, signature="t")[0]
    InboundEvent.objects.filter(pk=stored.pk).update(state=state)


def test_inbox_backlog_states_follow_the_oldest_waiting_event(settings):
    settings.HEALTH_INBOX_BACKLOG_WARNING_SECONDS = 300
    settings.HEALTH_INBOX_BACKLOG_FAILING_SECONDS = 1800
    assert inbox_results()["inbox backlog"].summary == "no webhook event waiting"
    event(1, minutes_ago=1)
    assert inbox_results()["inbox backlog"].status == OK
    event(2, minutes_ago=10, state="processing")
    assert inbox_results()["inbox backlog"].status == WARNING
    event(3, minutes_ago=45)
    result = inbox_results()["inbox backlog"]
    assert result.status == FAILING
    assert result.summary == "3 webhook event(s) waiting; the oldest arrived 45 min ago"


def test_a_failed_event_warns_and_a_held_one_fails():
    event(1, state="applied")
    assert inbox_results()["inbox failures"].status == OK
    event(2, state="failed")
    assert inbox_results()["inbox failures"].status == WARNING
    event(3, state="held")
    result = inbox_results()["inbox failures"]
    assert (result.status, result.value) == (FAILING, "1 failed, 1 held")


def test_the_inbox_checks_are_on_the_status_page():
    assert checks.check_inbox in health_checks()
