"""The data migration that reads stored places again (digests 0003)."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from digests.models import Opportunity

BEFORE = [("digests", "0002_weekly_digest")]
AFTER = [("digests", "0003_opportunity_iso_places_and_fee_text")]


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
    assert Opportunity.objects.get(pk=new_york.pk).country == "US"
    assert Opportunity.objects.values_list("city", "country").get(pk=brasil.pk) == (
        "São Paulo",
        "BR",
    )


def test_it_drops_a_currency_that_is_no_iso_code(old_schema):
    row = _old_row(old_schema, location_text="", fee_amount=5, fee_currency="KR")
    MigrationExecutor(connection).migrate(AFTER)
    assert Opportunity.objects.get(pk=row.pk).fee_currency == ""


@pytest.mark.parametrize("code", ["NY", "UK", "ZZ"])
def test_the_country_field_refuses_what_is_not_an_iso_code(code):
    with pytest.raises(ValidationError, match="ISO country code"):
        Opportunity._meta.get_field("country").run_validators(code)
