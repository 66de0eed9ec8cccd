"""Upsell keeps the marketing rules: conversion cancels, steps a day apart, links that resolve."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from digests.tokens import unsubscribe_token
from outreach.models import EmailOutbox, UpsellSession
from outreach.services.relay import outbox_drain
from outreach.services.upsell import upsell_process_due, upsell_session_start
from tests.outreach.conftest import make_pro

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Status = EmailOutbox.Status


def run(moment):
    with time_machine.travel(moment, tick=False):
        return upsell_process_due()


def mark_sent(moment):
    EmailOutbox.objects.filter(status=Status.QUEUED).update(status=Status.SENT, sent_at=moment)


def test_conversion_cancels_a_step_still_waiting_in_the_outbox(sequence, artist):
    upsell_session_start(user=artist, sequence_code="free-to-pro", now=T0)
    run(T0)
    make_pro(artist, anchor=T0)
    assert run(T0 + timedelta(minutes=15)) == {"converted": 1, "cancelled": 1}
    row = EmailOutbox.objects.get()
    assert row.status == Status.CANCELLED
    assert "Pro" in row.last_error


def test_after_downtime_the_steps_stay_a_day_apart(sequence, artist, settings):
    settings.UPSELL_MIN_STEP_GAP = timedelta(days=1)
    upsell_session_start(user=artist, sequence_code="free-to-pro", now=T0)
    run(T0)
    mark_sent(T0)
    # The scheduler was down for ten days: every step is overdue; it runs every 15 minutes.
    queued_at = []
    moment = T0 + timedelta(days=12)
    while moment < T0 + timedelta(days=14):
        if run(moment).get("queued"):
            queued_at.append(moment)
            mark_sent(moment)
        moment += timedelta(minutes=15)
    assert len(queued_at) == 2
    assert queued_at[1] - queued_at[0] >= timedelta(days=1)


def test_the_gap_counts_from_when_the_previous_step_was_sent(sequence, artist, settings):
    settings.UPSELL_MIN_STEP_GAP = timedelta(days=1)
    upsell_session_start(user=artist, sequence_code="free-to-pro", now=T0)
    run(T0)
    # The relay was down: step 1 still waits in the outbox when step 2 is due.
    assert run(T0 + timedelta(days=3)) == {}
    mark_sent(T0 + timedelta(days=3, hours=1))
    assert run(T0 + timedelta(days=3, hours=2)) == {}
    assert run(T0 + timedelta(days=4, hours=1)) == {"queued": 1}


def test_the_gap_is_a_setting(sequence, artist, settings):
    settings.UPSELL_MIN_STEP_GAP = timedelta(hours=1)
    sequence.steps.filter(position=2).update(delay=timedelta(0))
    upsell_session_start(user=artist, sequence_code="free-to-pro", now=T0)
    run(T0)
    mark_sent(T0)
    assert run(T0 + timedelta(minutes=30)) == {}
    assert run(T0 + timedelta(hours=1)) == {"queued": 1}


def test_an_upsell_email_carries_one_click_headers_and_a_visible_unsubscribe_link(sequence, artist):
    upsell_session_start(user=artist, sequence_code="free-to-pro", now=T0)
    run(T0)
    row = EmailOutbox.objects.get()
    url = f"/unsubscribe/{unsubscribe_token(artist.pk)}/"
    assert row.headers["List-Unsubscribe"].endswith(f"{url}>")
    assert row.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in row.body_text
    assert url in row.body_html


def test_an_unsubscribed_artist_gets_none_of_the_steps_end_to_end(sequence, artist, sendgrid):
    upsell_session_start(user=artist, sequence_code="free-to-pro", now=T0)
    type(artist).objects.filter(pk=artist.pk).update(unsubscribed_at=T0)
    for days in (0, 3, 12):
        run(T0 + timedelta(days=days))
        outbox_drain()
    assert sendgrid.accepted == []
    assert set(EmailOutbox.objects.values_list("status", flat=True)) <= {Status.SUPPRESSED}


def test_the_session_remembers_when_its_last_step_was_queued(sequence, artist):
    session = upsell_session_start(user=artist, sequence_code="free-to-pro", now=T0)
    run(T0)
    session.refresh_from_db()
    assert session.last_step_at == T0
    assert session.status == UpsellSession.Status.ACTIVE
