import json
import re

import pytest
from django.utils import timezone

from outreach.models import Category, EmailOutbox
from outreach.services.outbox import OutboxDraft, outbox_rows
from proletto.bulk import ids_reserve, rows_insert

pytestmark = pytest.mark.django_db

# What COPY's text format must escape, and what a rendered email holds.
AWKWARD = 'tab\there, line\nbreak, back\\slash, \\N, "quotes", été ✓ <b>&amp;</b>\r\n' * 50


def outbox_row(*, key: str, headers: dict, body: str) -> tuple[list[str], list[list]]:
    """One outbox row as the digest lays it out for COPY: (fields, [row])."""
    draft = OutboxDraft(
        recipient="giulia@artists.test",
        template="weekly_digest",
        context={},
        category=Category.TRANSACTIONAL,
        idempotency_key=key,
        headers=headers,
        rendered=("Your week", body, f"<p>{body}</p>"),
    )
    return outbox_rows([draft], ids=ids_reserve(EmailOutbox, 1), refusals=[""])


def test_copied_rows_read_back_exactly_as_given():
    now = timezone.now().replace(microsecond=123456)
    fields, rows = outbox_row(
        key="copy:1", headers={"X-Note": 'a "quoted" \\ value é'}, body=AWKWARD
    )
    rows[0][fields.index("next_attempt_at")] = now
    rows[0][fields.index("claimed_at")] = None
    rows[0][fields.index("priority")] = -3
    rows_insert(EmailOutbox, fields, rows, json_text=True)

    stored = EmailOutbox.objects.get(idempotency_key="copy:1")
    assert (stored.body_text, stored.body_html) == (AWKWARD, f"<p>{AWKWARD}</p>")
    assert stored.headers == json.loads(rows[0][fields.index("headers")])
    assert (stored.next_attempt_at, stored.claimed_at, stored.priority) == (now, None, -3)
    assert stored.created_at.tzinfo is not None


# On SQLite an integer column holds any 64-bit integer: nothing there is cut.
@pytest.mark.postgres
@pytest.mark.parametrize(
    "priority, error",
    [
        (40_000, "value 40000 out of range for int2"),
        (-40_000, "value -40000 out of range for int2"),
        (2**40, "value 1099511627776 out of range for int2"),
        ("7", "'7' is not an integer"),
        (True, "True is not an integer"),
    ],
)
def test_a_value_its_column_cannot_hold_is_refused_and_nothing_is_written(priority, error):
    from django.db import DataError, transaction

    fields, rows = outbox_row(key="copy:range", headers={}, body="text")
    rows[0][fields.index("priority")] = priority  # a smallint column
    # The binary COPY wrote 40,000 into a smallint as -25,536, silently.
    with pytest.raises(DataError, match=f"^priority: {re.escape(error)}$"):
        with transaction.atomic():
            rows_insert(EmailOutbox, fields, rows, json_text=True)
    assert not EmailOutbox.objects.filter(idempotency_key="copy:range").exists()


@pytest.mark.postgres
def test_a_boolean_column_takes_only_booleans():
    from django.db import DataError, transaction

    from digests.models import OpportunitySource as Source

    fields = ["name", "kind", "url", "enabled", "config", "timezone"]
    row = ["Open calls", "rss", "https://calls.test/feed", "false", "{}", "UTC"]
    # Written in binary, the string "false" would be stored as true.
    with pytest.raises(DataError, match="^enabled: 'false' is not a boolean$"):
        with transaction.atomic():
            rows_insert(Source, fields, [row], json_text=True)
    assert not Source.objects.exists()
