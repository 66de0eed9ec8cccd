import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from digests.models import DigestEmail, DigestItem
from digests.services.digest import digests_send_due
from digests.services.digest_batch import _reasons_json
from outreach.models import Category, EmailOutbox
from outreach.services.events import suppression_add
from tests.digests.digest_data import NOW, artist, opportunity

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue():
    return [opportunity(f"Painting call {i}") for i in range(7)]


def test_it_queues_one_digest_with_five_opportunities_per_pro_artist(catalogue):
    giulia = artist("giulia")
    counts = digests_send_due(now=NOW)
    digest = DigestEmail.objects.get(user=giulia)
    assert (digest.status, digest.week_start, digest.opportunity_count) == (
        DigestEmail.Status.QUEUED,
        dt.date(2026, 11, 23),
        5,
    )
    assert [item.position for item in digest.items.all()] == [1, 2, 3, 4, 5]
    assert digest.outbox.category == Category.DIGEST
    assert digest.outbox.recipient == "giulia@artists.test"
    assert counts["queued"] == 1


def test_running_twice_queues_nothing_more(catalogue):
    artist("giulia")
    digests_send_due(now=NOW)
    counts = digests_send_due(now=NOW + dt.timedelta(hours=1))
    assert counts["queued"] == 0
    assert DigestEmail.objects.count() == 1
    assert EmailOutbox.objects.count() == 1


def test_it_leaves_out_free_opted_out_and_unsubscribed_artists(catalogue):
    artist("free", pro=False)
    artist("optout", digest_opt_in=False)
    artist("gone", unsubscribed_at=NOW - dt.timedelta(days=1))
    assert digests_send_due(now=NOW)["users"] == 0
    assert not DigestEmail.objects.exists()


def test_it_skips_a_suppressed_address_and_records_why(catalogue):
    user = artist("bounced")
    suppression_add(address=user.email, reason="hard bounce")
    digests_send_due(now=NOW)
    digest = DigestEmail.objects.get(user=user)
    assert (digest.status, digest.skip_reason) == (DigestEmail.Status.SKIPPED, "address suppressed")
    assert not EmailOutbox.objects.exists()


def test_an_artist_nothing_fits_gets_the_general_picks_instead(catalogue):
    user = artist("potter", mediums=["ceramics"], interests=[])
    digests_send_due(now=NOW)
    digest = DigestEmail.objects.get(user=user)
    assert (digest.status, digest.opportunity_count) == (DigestEmail.Status.QUEUED, 5)
    assert {item.reasons[0] for item in digest.items.all()} == {"general pick"}


def test_with_no_open_opportunity_at_all_it_skips_and_records_why():
    user = artist("early")
    digests_send_due(now=NOW)
    digest = DigestEmail.objects.get(user=user)
    assert (digest.status, digest.skip_reason) == (
        DigestEmail.Status.SKIPPED,
        "no open opportunity to send",
    )


def test_it_sends_fewer_than_five_when_fewer_fit():
    opportunity(mediums=["sculpture"])
    opportunity(mediums=["sculpture"])
    opportunity(mediums=["painting"])
    user = artist("sculptor", mediums=["sculpture"], interests=[])
    digests_send_due(now=NOW)
    assert DigestEmail.objects.get(user=user).opportunity_count == 2


def test_it_waits_for_monday_eight_in_the_artists_own_time_zone(catalogue):
    artist("rome", timezone="Europe/Rome")
    artist("la", timezone="America/Los_Angeles")
    digests_send_due(now=NOW)  # 10:00 in Rome, 01:00 in Los Angeles
    assert list(DigestEmail.objects.values_list("user__username", flat=True)) == ["rome"]
    digests_send_due(now=dt.datetime(2026, 11, 23, 16, 0, tzinfo=dt.UTC))  # 08:00 in LA
    assert DigestEmail.objects.filter(user__username="la").exists()


def test_auckland_gets_its_digest_on_sunday_evening_utc(catalogue):
    artist("tane", timezone="Pacific/Auckland")
    digests_send_due(now=dt.datetime(2026, 11, 22, 19, 0, tzinfo=dt.UTC))
    assert DigestEmail.objects.get().week_start == dt.date(2026, 11, 23)


def test_a_new_week_brings_a_new_digest_without_repeating_opportunities():
    for i in range(10):
        opportunity(f"Call {i}", deadline=NOW + dt.timedelta(days=30 + i))
    user = artist("giulia")
    digests_send_due(now=NOW)
    digests_send_due(now=NOW + dt.timedelta(days=7))
    first, second = DigestEmail.objects.filter(user=user).order_by("week_start")
    first_items = set(first.items.values_list("opportunity_id", flat=True))
    second_items = set(second.items.values_list("opportunity_id", flat=True))
    assert len(first_items) == len(second_items) == 5
    assert not first_items & second_items


def crash_the_second_batch_write(monkeypatch):
    from digests.services import digest

    real_write = digest.digest_batch_write
    calls = {"n": 0}

    def crash_on_second_batch(batch):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("process killed")
        return real_write(batch)

    monkeypatch.setattr(digest, "digest_batch_write", crash_on_second_batch)


def assert_a_failed_batch_left_nothing_and_a_rerun_completes(users, monkeypatch):
    with pytest.raises(RuntimeError):
        digests_send_due(now=NOW, batch_size=3)
    assert DigestEmail.objects.count() == 3
    assert EmailOutbox.objects.count() == 3
    monkeypatch.undo()
    digests_send_due(now=NOW, batch_size=3)
    assert sorted(DigestEmail.objects.values_list("user_id", flat=True)) == [u.id for u in users]
    assert EmailOutbox.objects.count() == 9
    assert DigestItem.objects.count() == 45


def test_a_batch_that_fails_midway_leaves_nothing_and_a_rerun_completes(catalogue, monkeypatch):
    users = [artist(f"a{i}") for i in range(9)]
    crash_the_second_batch_write(monkeypatch)
    assert_a_failed_batch_left_nothing_and_a_rerun_completes(users, monkeypatch)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_batch_written_behind_that_fails_stops_the_run_and_a_rerun_completes(monkeypatch):
    # Outside a transaction, batches are written in a thread of their own (WriteBehind).
    for i in range(7):
        opportunity(f"Painting call {i}")
    users = [artist(f"a{i}") for i in range(9)]
    crash_the_second_batch_write(monkeypatch)
    assert_a_failed_batch_left_nothing_and_a_rerun_completes(users, monkeypatch)


def test_queries_per_batch_do_not_grow_with_users(catalogue):
    def run_queries(week):
        with CaptureQueriesContext(connection) as queries:
            counts = digests_send_due(now=NOW + dt.timedelta(weeks=week), batch_size=500)
        assert counts["queued"] == counts["users"] > 0
        return len(queries)

    for i in range(3):
        artist(f"few{i}")
    few = run_queries(0)
    # 4x the readers; kept under SQLite's bound-parameter limit, past which Django splits
    # one bulk insert into several statements.
    for i in range(12):
        artist(f"q{i}")
    assert run_queries(1) == few <= 30


def test_a_digest_shows_its_outbox_rows_delivery_at_once(catalogue):
    artist("ok")
    artist("dead")
    artist("waiting")
    digests_send_due(now=NOW)
    EmailOutbox.objects.filter(recipient="ok@artists.test").update(
        status=EmailOutbox.Status.SENT, sent_at=NOW, opened_at=NOW
    )
    EmailOutbox.objects.filter(recipient="dead@artists.test").update(status=EmailOutbox.Status.DEAD)
    digests = DigestEmail.objects.with_delivery()
    assert dict(digests.values_list("user__username", "delivery")) == {
        "ok": DigestEmail.Delivery.SENT,
        "dead": DigestEmail.Delivery.FAILED,
        "waiting": DigestEmail.Delivery.QUEUED,
    }
    assert digests.values_list("sent_at", "opened_at").get(user__username="ok") == (NOW, NOW)


@pytest.mark.postgres
@pytest.mark.slow
def test_a_run_reads_no_digest_history(catalogue):
    """100,000 digests of past weeks, each with its sent email: the run reads the digest rows
    of this week's readers only (PostgreSQL's per-transaction counters), and issues as many
    queries as without them."""
    artist("giulia")
    artist("marta")
    with CaptureQueriesContext(connection) as without_history:
        digests_send_due(now=NOW)
    DigestEmail.objects.all().delete()
    EmailOutbox.objects.all().delete()
    past = [artist(f"past{i}", pro=False) for i in range(1000)]
    first_week = dt.date(2026, 11, 23) - dt.timedelta(weeks=100)
    history = [(user, first_week + dt.timedelta(weeks=w)) for user in past for w in range(100)]
    emails = EmailOutbox.objects.bulk_create(
        (
            EmailOutbox(
                recipient=user.email,
                user=user,
                subject="Your week",
                category=Category.DIGEST,
                idempotency_key=f"history:{user.pk}:{week}",
                status=EmailOutbox.Status.SENT,
                sent_at=NOW - dt.timedelta(days=7),
            )
            for user, week in history
        ),
        batch_size=5000,
    )
    DigestEmail.objects.bulk_create(
        (
            DigestEmail(user=user, week_start=week, status="queued", outbox=email)
            for (user, week), email in zip(history, emails, strict=True)
        ),
        batch_size=5000,
    )
    assert DigestEmail.objects.count() == 100_000
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE digests_digestemail, digests_digestitem, outreach_emailoutbox")
    read_before = _digest_rows_read()
    with CaptureQueriesContext(connection) as with_history:
        counts = digests_send_due(now=NOW)
    assert counts["queued"] == 2
    assert _digest_rows_read() - read_before < 100
    assert len(with_history) == len(without_history)


def _digest_rows_read() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
            "FROM pg_stat_xact_user_tables WHERE relname = 'digests_digestemail'"
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres
def test_queued_digest_bodies_are_stored_compressed_with_lz4(catalogue):
    artist("giulia")
    digests_send_due(now=NOW)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_compression(body_html), pg_column_compression(body_text) "
            "FROM outreach_emailoutbox"
        )
        assert cursor.fetchall() == [("lz4", "lz4")]


def test_a_deleted_digest_queued_again_is_linked_to_its_weeks_email(catalogue):
    user = artist("giulia")
    digests_send_due(now=NOW)
    email = EmailOutbox.objects.get()
    DigestEmail.objects.all().delete()  # e.g. from the admin; the email row stays
    counts = digests_send_due(now=NOW + dt.timedelta(hours=1))
    assert counts["queued"] == 1
    assert DigestEmail.objects.get(user=user).outbox_id == email.id
    assert EmailOutbox.objects.count() == 1


def test_a_picks_reasons_are_stored_as_json_dumps_writes_them():
    reasons = (
        "medium: painting",
        'you might also like: vidéo, "sound"',
        "tag: a\\b\u2028c\x00",
        "deadline in 3 days",
    )
    assert _reasons_json(reasons) == json.dumps(list(reasons))
    assert _reasons_json(()) == json.dumps([])
