"""The data migrations of issue 15: places read again (0003), date-only deadlines (0004)."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from digests.models import Opportunity

BEFORE = [("digests", "0002_weekly_digest")]
AFTER = [("digests", "0003_opportunity_iso_places_and_fee_text")]
DEADLINE_DATES = [("digests", "0004_opportunity_deadline_date")]


@pytest.fixture
def old_schema(transactional_db):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    yield executor.loader.project_state(BEFORE).apps
    MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())


def _old_row(apps, **fields):
    Old = apps.get_model("digests", "Opportunity")
    return Old.objects.create(
        title="Call",
        url=f"https://example.org/{fields['location_text'] or 'x'}",
        content_hash="x",
        first_seen_at="2026-11-01T00:00:00Z",
        last_seen_at="2026-11-01T00:00:00Z",
        **fields,
    )


def test_it_reads_stored_places_again_from_their_text(old_schema):
    new_york = _old_row(old_schema, location_text="New York, NY", city="New York", country="NY")
    brasil = _old_row(old_schema, location_text="São Paulo, Brasil", city="São Paulo, Brasil")
    MigrationExecutor(connection).migrate(AFTER)
    assert Opportunity.objects.values_list("country", flat=True).get(pk=new_york.pk) == "US"
    assert Opportunity.objects.values_list("city", "country").get(pk=brasil.pk) == (
        "São Paulo",
        "BR",
    )


def test_it_drops_a_currency_that_is_no_iso_code(old_schema):
    row = _old_row(old_schema, location_text="", fee_amount=5, fee_currency="KR")
    MigrationExecutor(connection).migrate(AFTER)
    assert Opportunity.objects.values_list("fee_currency", flat=True).get(pk=row.pk) == ""


@pytest.mark.parametrize("code", ["NY", "UK", "ZZ"])
def test_the_country_field_refuses_what_is_not_an_iso_code(code):
    with pytest.raises(ValidationError, match="ISO country code"):
        Opportunity._meta.get_field("country").run_validators(code)


def test_a_stored_end_of_day_deadline_becomes_its_day_in_the_sources_zone(old_schema):
    Source = old_schema.get_model("digests", "OpportunitySource")
    source = Source.objects.create(
        name="NY", kind="feed", url="https://ny.example/", timezone="America/New_York"
    )
    # How "30 December 2026" was stored: 23:59:59 in New York.
    end_of_day = dt.datetime(2026, 12, 31, 4, 59, 59, tzinfo=dt.UTC)
    day_only = _old_row(old_schema, location_text="a", deadline=end_of_day, source_id=source.pk)
    timed = _old_row(
        old_schema, location_text="b", deadline=dt.datetime(2026, 12, 30, 22, 0, tzinfo=dt.UTC)
    )
    MigrationExecutor(connection).migrate(DEADLINE_DATES)
    assert Opportunity.objects.values_list("deadline_date", "deadline_timezone").get(
        pk=day_only.pk
    ) == (dt.date(2026, 12, 30), "America/New_York")
    assert Opportunity.objects.values_list("deadline_date", "deadline_timezone").get(
        pk=timed.pk
    ) == (None, "UTC")


BEFORE_DELIVERY_READ = [("digests", "0005_test_digest_requester_and_permissions")]
DELIVERY_READ = [("digests", "0006_delivery_read_from_the_outbox")]


def test_opens_and_clicks_seen_only_by_the_digest_move_onto_its_outbox_row(transactional_db):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_DELIVERY_READ)
    apps = executor.loader.project_state(BEFORE_DELIVERY_READ).apps
    user = apps.get_model("proletto", "User").objects.create(username="giulia")
    Outbox = apps.get_model("outreach", "EmailOutbox")
    Digest = apps.get_model("digests", "DigestEmail")
    pixel, esp = (
        dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC),
    )

    def digest(week, **fields):
        email = Outbox.objects.create(
            recipient="g@example.org",
            subject="s",
            category="digest",
            idempotency_key=f"k{week}",
            status="sent",
            opened_at=fields.pop("esp_open", None),
        )
        return Digest.objects.create(user=user, week_start=week, outbox=email, **fields)

    only_pixel = digest("2026-11-16", status="sent", opened_at=pixel, clicked_at=pixel)
    esp_first = digest("2026-11-23", status="failed", opened_at=pixel, esp_open=esp)
    try:
        MigrationExecutor(connection).migrate(DELIVERY_READ)
        from digests.models import DigestEmail

        rows = DigestEmail.objects.with_delivery().order_by("week_start")
        assert list(rows.values_list("pk", "status", "opened_at", "clicked_at")) == [
            (only_pixel.pk, "queued", pixel, pixel),
            (esp_first.pk, "queued", esp, None),
        ]
    finally:
        MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
