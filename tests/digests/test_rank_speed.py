"""The recommender's and the digest email's faster paths agree, bit for bit and character for
character, with what they replaced (kept here as the reference): digests must not move."""

import datetime as dt
import random
from decimal import Decimal

import numpy as np
import pytest
from django.core import signing
from django.test import override_settings

from digests import tokens
from digests.models import Opportunity
from digests.recommender import Catalogue, Item, Profile, _kth_best, _label
from digests.rendering import (
    DISCOVERY_LABEL,
    CardTemplates,
    DigestCards,
    OpportunityCard,
    card_render,
)
from digests.services.digest_email import _tracked, _tracked_around, digest_email_context
from tests.digests.digest_data import opportunity

TODAY = dt.date(2026, 11, 23)
MEDIUMS = ["painting", "video", "sound", "public_art", "textile"]
KINDS = ["grant", "residency", "open_call"]
TAGS = ["ecology", "migration", "video", "residency", "public_space"]


@pytest.mark.parametrize("seed", range(40))
def test_the_kth_best_score_is_the_full_partitions(seed):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(2, 3000))
    # Rounded like the digest's scores (many ties), with the -inf of places already taken.
    score = rng.normal(3, 2, size).round(int(rng.integers(0, 3)))
    score[rng.random(size) < 0.05] = -np.inf
    for k in {1, 2, 5, size - 1}:
        if 0 < k < size:
            assert _kth_best(score, k) == np.partition(score, size - k)[size - k]


@pytest.mark.parametrize("nan_share", [0.0, 0.3, 0.8, 1.0])
def test_the_kth_best_score_with_nans_is_the_full_partitions(nan_share):
    rng = np.random.default_rng(7)
    score = rng.normal(3, 2, 200).round(1)
    score[rng.random(200) < nan_share] = np.nan
    for k in (1, 5, 50):
        expected = np.partition(score, 200 - k)[200 - k]
        assert np.array_equal(_kth_best(score, k), expected, equal_nan=True)


def reference_reasons(catalogue, item, profile, *, discovery=False):
    """Catalogue.reasons as it was first written, sorting each list as it goes."""
    why = [f"medium: {m}" for m in sorted(profile.mediums & item.mediums)]
    if profile.mediums and not item.mediums:
        why.append("open to all mediums")
    why += [f"interest: {i}" for i in sorted(profile.interests) if i in item.tags or i == item.kind]
    features = item.features
    if discovery:
        unnamed = sorted(
            _label(f)
            for f in features - profile.named
            if (profile.lifts.get(f, 0) > 0 or profile.explore.get(f, 0) > 0)
            and not f.startswith("tag:")
        )
        if unnamed:
            why.insert(0, f"you might also like: {', '.join(unnamed)}")
    if profile.more:
        more = sorted(_label(f) for f in features & profile.more)
        if more:
            why.append("you asked for more like: " + ", ".join(more))
    if profile.less:
        less = sorted(_label(f) for f in features & profile.less)
        if less:
            why.append("you said not for me: " + ", ".join(less))
    up, down = [], []
    for feature in features:
        lift = profile.lifts.get(feature, 0)
        if lift > 0:
            up.append(_label(feature))
        elif lift < 0:
            down.append(_label(feature))
    if up:
        up.sort()
        why.append("clicked more than usual (by you or artists like you): " + ", ".join(up))
    if down:
        down.sort()
        why.append("clicked less than usual: " + ", ".join(down))
    if profile.country and item.country == profile.country:
        why.append(f"in your country ({item.country})")
    elif item.is_remote:
        why.append("remote")
    why.append(catalogue._deadline_reason(item.deadline))
    return tuple(why)


def some(rng, values, most):
    return frozenset(rng.sample(values, rng.randint(0, most)))


def random_item(rng, pk):
    deadline = None if rng.random() < 0.2 else TODAY + dt.timedelta(days=rng.randint(3, 120))
    return Item(
        pk,
        rng.choice(KINDS + [""]),
        some(rng, MEDIUMS, 3),
        some(rng, TAGS, 3),
        rng.choice(["IT", "GB", ""]),
        rng.random() < 0.3,
        deadline,
    )


def random_profile(rng, pk):
    features = (
        [f"medium:{m}" for m in MEDIUMS] + [f"kind:{k}" for k in KINDS] + [f"tag:{t}" for t in TAGS]
    )
    return Profile(
        user_id=pk,
        mediums=some(rng, MEDIUMS, 3),
        interests=some(rng, KINDS + TAGS, 3),
        country=rng.choice(["IT", "GB", ""]),
        lifts={f: rng.choice([-1.5, -0.5, 0.0, 0.5, 2.0]) for f in rng.sample(features, 6)},
        explore={f: rng.choice([0.0, 0.7]) for f in rng.sample(features, 3)},
        more=some(rng, features, 2),
        less=some(rng, features, 2),
    )


def test_reasons_are_what_they_were_for_any_item_and_profile():
    rng = random.Random(7)
    items = [random_item(rng, pk) for pk in range(1, 200)]
    catalogue = Catalogue(items, today=TODAY)
    for pk in range(300):
        profile = random_profile(rng, pk)
        for item in rng.sample(catalogue.items, 10):
            for discovery in (False, True):
                assert catalogue.reasons(item, profile, discovery=discovery) == (
                    reference_reasons(catalogue, item, profile, discovery=discovery)
                )


def test_reasons_of_an_item_not_in_the_catalogue_are_its_own():
    catalogue = Catalogue([Item(1, "grant", frozenset({"video"}))], today=TODAY)
    profile = Profile(user_id=1, mediums=frozenset({"video", "sound"}))
    other = Item(1, "grant", frozenset({"sound"}))  # same id, another item
    assert catalogue.reasons(catalogue.items[0], profile)[0] == "medium: video"
    assert catalogue.reasons(other, profile)[0] == "medium: sound"


def test_card_tokens_are_the_click_and_feedback_tokens():
    assert tokens.card_tokens(12, 3456) == (
        tokens.click_token(12, 3456),
        tokens.feedback_token(12, 3456, "more"),
        tokens.feedback_token(12, 3456, "less"),
    )
    assert tokens.card_tokens(12, 3456)[0] == signing.Signer(salt=tokens.CLICK_SALT).sign("12.3456")


@pytest.mark.django_db
@pytest.mark.parametrize("site_url", ["https://proletto.test", "https://p.test/x?a=1&b='2'"])
def test_tracked_links_in_a_card_are_escaped_as_the_template_escapes_them(site_url):
    item = opportunity(title='A "call" & more')
    around = _tracked_around(site_url, "digests:click")
    link = _tracked(around, tokens.click_token(1, item.id))
    more = _tracked(_tracked_around(site_url, "digests:feedback", "more"), "9.9:a-b_c")
    # A link is only passed as safe when escaping it would leave it as it is.
    assert around[2] == ("&" not in site_url)
    filled = OpportunityCard.render(item).fill(
        click_url=link, deadline_label="1 May 2027 & 'later'", more_url=more, less_url=more
    )
    html, text = card_render(
        item,
        click_url=str(link),
        deadline_label="1 May 2027 & 'later'",
        more_url=str(more),
        less_url=str(more),
    )
    assert (filled["html"], filled["text"]) == (html, text)


@pytest.mark.django_db
def test_a_deadline_label_is_filled_escaped_when_it_needs_it():
    item = opportunity(deadline=dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC))
    cards = DigestCards([item])
    label = cards.deadline_label(cards[item.id], "Europe/London")
    html, _ = card_render(item, click_url="u", deadline_label=str(label))
    filled = cards[item.id].fill(click_url="u", deadline_label=label, more_url="", less_url="")
    assert filled["html"] == html


@pytest.mark.django_db
@override_settings(SITE_URL="https://p.test/?a=1&b=2")
def test_the_emails_links_are_escaped_in_the_html_when_the_site_url_needs_it():
    item = opportunity()
    cards = DigestCards([item])
    user = {
        "id": 5,
        "display_name": "",
        "username": "giulia",
        "mediums": [],
        "timezone": "Europe/Rome",
    }
    context, _ = digest_email_context(
        user=user, digest_id=7, opportunity_ids=[item.id], cards=cards
    )
    html = context["items"][0]["html"]
    assert "https://p.test/?a=1&amp;b=2" in html
    assert "https://p.test/?a=1&b=2" in context["items"][0]["text"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"title": 'Call <script>alert(1)</script> & "quotes"', "organisation": "O'Brien & Co"},
        {"organisation": "", "deadline": None, "is_remote": True, "fee_amount": Decimal("0")},
        {"description": "word " * 100, "fee_amount": Decimal("25.5"), "fee_currency": "EUR"},
        {"title": "Été — ✓ {{ x }} {% if %}", "description": "<b>bold</b>\n\nline"},
    ],
)
def test_a_card_filled_from_the_runs_templates_is_the_whole_render(fields):
    item = opportunity(**fields)
    templates = CardTemplates()
    opportunity(organisation="")  # both shapes rendered by the same templates
    opportunity(organisation="Other")
    for other in Opportunity.objects.exclude(pk=item.pk):
        OpportunityCard.render(other, templates)
    card = OpportunityCard.render(item, templates)
    whole = OpportunityCard.render(item)
    assert (card.html.parts, card.text.parts) == (whole.html.parts, whole.text.parts)
    values = {
        "click_url": "https://calls.example/a?b=1&c=<2>",
        "deadline_label": "1 December 2026 & 'later'",
        "more_url": "m&1",
        "less_url": "l&2",
    }
    assert card.fill(**values, discovery=True) == whole.fill(**values, discovery=True)
    html, text = card_render(item, **values, discovery_label=DISCOVERY_LABEL)
    assert (card.fill(**values, discovery=True)["html"], card.fill(**values)["text"]) == (
        html,
        card_render(item, **values)[1],
    )


@pytest.mark.django_db
def test_a_card_whose_values_are_not_all_text_is_rendered_whole():
    item = opportunity()
    item.title = 42  # not a string: what the templates make of it is left to them
    assert CardTemplates().render(item) is None
    card = OpportunityCard.render(item, CardTemplates())
    assert (
        ">42</a>" in card.fill(click_url="u", deadline_label="d", more_url="", less_url="")["html"]
    )
