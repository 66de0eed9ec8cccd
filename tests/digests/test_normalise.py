import datetime as dt
from decimal import Decimal

import pytest

from digests.scraping.normalise import (
    ItemSkipped,
    RawItem,
    normalise_item,
    parse_fee,
    parse_kind,
    parse_location,
    split_categories,
)

BASE = "https://source.example/list"


def test_it_maps_category_words_onto_the_medium_vocabulary_and_keeps_the_rest_as_tags():
    assert split_categories(["Oil painting", "Photographs", "Ecology", "  Public  Art "]) == (
        ["painting", "photography", "public-art"],
        ["ecology"],
    )


def test_it_splits_comma_separated_categories():
    assert split_categories(["sculpture, clay; Residency"]) == (
        ["ceramics", "sculpture"],
        ["residency"],
    )


@pytest.mark.parametrize(
    ("kind", "title", "expected"),
    [
        ("Artist-in-residence", "", "residency"),
        ("", "Fellowship for Women Sculptors", "fellowship"),
        ("Prize", "", "competition"),
        ("", "Call for entries: spring show", "open_call"),
        ("", "Studio manager (part-time job)", "job"),
        ("", "Something else", "other"),
    ],
)
def test_it_recognises_the_kind_from_the_kind_field_or_the_title(kind, title, expected):
    assert parse_kind(kind, title=title) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Berlin, Germany", ("Berlin", "DE", False)),
        ("Kyoto, JP", ("Kyoto", "JP", False)),
        ("Remote", ("", "", True)),
        ("Online / London, UK", ("London", "GB", True)),
        ("", ("", "", False)),
    ],
)
def test_it_splits_a_location_into_city_country_and_remote(text, expected):
    assert parse_location(text)[:3] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Free", (Decimal("0"), "")),
        ("No entry fee", (Decimal("0"), "")),
        ("€20", (Decimal("20.00"), "EUR")),
        ("$25 per entry", (Decimal("25.00"), "USD")),
        ("GBP 12.50", (Decimal("12.50"), "GBP")),
        ("ask us", (None, "")),
    ],
)
def test_it_reads_a_fee_as_free_or_an_amount(text, expected):
    assert parse_fee(text) == expected


def test_it_skips_an_item_without_a_title():
    with pytest.raises(ItemSkipped, match="no title"):
        normalise_item(RawItem(title="<script>x</script>", link="/a"), base_url=BASE, tz=dt.UTC)


def test_it_skips_an_item_whose_link_is_not_http():
    with pytest.raises(ItemSkipped, match="no usable http"):
        normalise_item(RawItem(title="Grant", link="javascript:evil()"), base_url=BASE, tz=dt.UTC)


def test_it_keeps_an_item_with_an_unreadable_deadline_as_rolling():
    raw = RawItem(title="Grant", link="/g", deadline="when the moon is full")
    item = normalise_item(raw, base_url=BASE, tz=dt.UTC)
    assert item["deadline"] is None


def test_the_same_content_gives_the_same_hash_and_a_change_a_new_one():
    raw = RawItem(title="Grant", link="/g", description="<p>Money</p>", deadline="2027-01-01")
    first = normalise_item(raw, base_url=BASE, tz=dt.UTC)
    assert normalise_item(raw, base_url=BASE, tz=dt.UTC)["content_hash"] == first["content_hash"]
    raw.deadline = "2027-02-01"
    assert normalise_item(raw, base_url=BASE, tz=dt.UTC)["content_hash"] != first["content_hash"]
