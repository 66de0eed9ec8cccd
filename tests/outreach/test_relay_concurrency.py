import re

import pytest
from django.utils import timezone

from outreach.models import EmailOutbox
from outreach.testing.fake_sendgrid import FakeSendGrid

from .processes import manage

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_two_relay_processes_drain_2000_rows_without_duplicates_or_losses():
    now = timezone.now()
    EmailOutbox.objects.bulk_create(
        EmailOutbox(
            recipient=f"artist{i}@example.com",
            subject=f"Hello {i}",
            body_text="Hello",
            category="transactional",
            idempotency_key=f"load:{i}",
            next_attempt_at=now,
        )
        for i in range(2000)
    )
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
