from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from outreach.errors import OutboxError
from outreach.models import EmailOutbox, UpsellSession, UpsellStep
from outreach.services.upsell import upsell_process_due, upsell_session_start
from tests.outreach.conftest import make_pro

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Session = UpsellSession.Status


def run(moment):
    """One upsell run at `moment`, then the relay sends what it queued (a step waits while
    the previous one is still in the outbox)."""
    with time_machine.travel(moment, tick=False):
        counts = upsell_process_due()
    EmailOutbox.objects.filter(status=EmailOutbox.Status.QUEUED).update(
        status=EmailOutbox.Status.SENT, sent_at=moment
    )
    return counts


def test_each_due_step_is_queued_once_in_order(sequence, artist):
    session = upsell_session_start(user=artist, sequence_code="free-to-pro", now=T0)
    assert run(T0) == {"queued": 1}
    assert run(T0 + timedelta(hours=1)) == {}
    assert run(T0 + timedelta(days=3)) == {"queued": 1}
    assert run(T0 + timedelta(days=12)) == {"queued": 1, "completed": 1}
    assert run(T0 + timedelta(days=13)) == {}
    templates = list(EmailOutbox.objects.order_by("id").values_list("template", flat=True))
    assert templates == ["upsell_welcome", "upsell_features", "upsell_last_chance"]
    assert set(EmailOutbox.objects.values_list("category", flat=True)) == {"upsell"}
    session.refresh_from_db()
    assert session.status == Session.COMPLETED


def test_the_idempotency_key_is_per_session_and_step(sequence, artist):
    session = upsell_session_start(user=artist, sequence_code="free-to-pro", now=T0)
    run(T0)
    first_step = sequence.steps.get(position=1)
    assert EmailOutbox.objects.get().idempotency_key == f"upsell:{session.pk}:{first_step.pk}"
    # A run that died after queueing but before saving the session does not queue it twice.
    UpsellSession.objects.filter(pk=session.pk).update(current_step=0)
    run(T0 + timedelta(minutes=15))
    assert EmailOutbox.objects.count() == 1


def test_a_scheduler_that_was_down_sends_one_step_per_run(sequence, artist):
    upsell_session_start(user=artist, sequence_code="free-to-pro", now=T0)
    assert run(T0 + timedelta(days=5)) == {"queued": 1}
    assert EmailOutbox.objects.count() == 1


def test_conversion_to_pro_stops_the_sequence(sequence, artist):
    session = upsell_session_start(user=artist, sequence_code="free-to-pro", now=T0)
    run(T0)
    make_pro(artist, anchor=T0)
    assert run(T0 + timedelta(days=3)) == {"converted": 1}
    session.refresh_from_db()
    assert session.status == Session.CONVERTED
    assert EmailOutbox.objects.count() == 1


def test_the_deadline_expires_the_session(sequence, artist):
    sequence.steps.filter(position=3).update(delay=timedelta(days=20))
    session = upsell_session_start(user=artist, sequence_code="free-to-pro", now=T0)
    run(T0)
    run(T0 + timedelta(days=3))
    assert run(T0 + timedelta(days=14)) == {"expired": 1}
    session.refresh_from_db()
    assert session.status == Session.EXPIRED
    assert EmailOutbox.objects.count() == 2


def test_a_pro_user_gets_no_session(sequence, artist):
    make_pro(artist, anchor=T0)
    assert upsell_session_start(user=artist, sequence_code="free-to-pro", now=T0) is None


def test_starting_twice_keeps_one_active_session(sequence, artist):
    first = upsell_session_start(user=artist, sequence_code="free-to-pro", now=T0)
    second = upsell_session_start(user=artist, sequence_code="free-to-pro", now=T0)
    assert first.pk == second.pk


def test_an_unknown_sequence_is_a_clear_error(artist):
    with pytest.raises(OutboxError, match="no active upsell sequence 'nope'"):
        upsell_session_start(user=artist, sequence_code="nope")


def test_a_user_without_an_address_is_skipped_and_the_others_go_on(
    sequence, artist, django_user_model
):
    nomail = django_user_model.objects.create_user(username="nomail", email="")
    upsell_session_start(user=nomail, sequence_code="free-to-pro", now=T0)
    upsell_session_start(user=artist, sequence_code="free-to-pro", now=T0)
    assert run(T0) == {"queued": 1, "errors": 1}
    assert EmailOutbox.objects.get().recipient == "giulia@artists.example"


def test_a_step_with_an_unknown_template_is_a_form_error(sequence):
    from django.core.exceptions import ValidationError

    step = UpsellStep(sequence=sequence, position=9, delay=timedelta(0), template="nope")
    with pytest.raises(ValidationError, match="No email template templates/email/nope"):
        step.full_clean()
