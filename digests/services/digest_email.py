"""The weekly digest email's template context, headers and signed links, for one reader."""

import functools
from html import escape as html_escape

from django.conf import settings
from django.urls import reverse
from django.utils.safestring import SafeString

from digests import tokens
from digests.general_picks import are_general
from digests.rendering import DigestCards
from outreach.consent import marketing_headers
from proletto.preferences_link import preferences_url
from proletto.vocabulary import MEDIUMS


@functools.lru_cache(maxsize=32)
def _link_around(site_url: str, name: str, *args: str) -> tuple[str, str]:
    # reverse() once per URL and run: a link is the text before the token, the token and the
    # text after it.
    before, after = reverse(name, args=[*args, "TOKEN"]).split("TOKEN")
    return site_url + before, after


@functools.lru_cache(maxsize=32)
def _tracked_around(site_url: str, name: str, *args: str) -> tuple[str, str, bool]:
    """_link_around, and whether a link with any token in it is the same escaped for HTML:
    a token is ids, ":" and base64url, none of which HTML escapes, so that holds if it
    holds of the text around the token. Such links are passed to the cards as safe strings,
    not escaped again for each of the 60,000 places a run puts one (the same text)."""
    before, after = _link_around(site_url, name, *args)
    return before, after, html_escape(before) == before and html_escape(after) == after


def _tracked(around: tuple[str, str, bool], token: str) -> str:
    before, after, safe = around
    link = before + token + after
    return SafeString(link) if safe else link


@functools.lru_cache(maxsize=4)
def _view_all_url(site_url: str) -> str:
    return site_url + reverse("digests:opportunities")


def _link(name: str, token: str, *, site_url: str) -> str:
    before, after = _link_around(site_url, name)
    return before + token + after


def digest_email_context(
    *,
    user: dict,
    digest_id: int | None,
    opportunity_ids: list[int],
    cards: DigestCards,
    general: bool = False,
    discovery_ids=frozenset(),
) -> tuple[dict, dict]:
    """The WEEKLY_DIGEST template context and the email's headers for one user.

    With digest_id None (a preview) the links are not tracked. `cards` must hold the cards of
    `opportunity_ids` (DigestCards.load). `general`: the items are general picks (cold
    start), and the email says so and invites the reader to complete their profile.
    `discovery_ids`: items labelled "you might also like" (a medium or kind not in the profile).
    """
    site_url = settings.SITE_URL
    unsubscribe_url = _link(
        "digests:unsubscribe", tokens.unsubscribe_token(user["id"]), site_url=site_url
    )
    click = _tracked_around(site_url, "digests:click")
    more = _tracked_around(site_url, "digests:feedback", "more")
    less = _tracked_around(site_url, "digests:feedback", "less")
    items = []
    for opportunity_id in opportunity_ids:
        card = cards[opportunity_id]
        if digest_id is None:
            click_url = card.url
            more_url, less_url = _tracked(more, tokens.REDACTED), _tracked(less, tokens.REDACTED)
        else:
            click_token, more_token, less_token = tokens.card_tokens(digest_id, opportunity_id)
            click_url = _tracked(click, click_token)
            more_url, less_url = _tracked(more, more_token), _tracked(less, less_token)
        items.append(
            card.fill(
                click_url=click_url,
                deadline_label=cards.deadline_label(card, user["timezone"]),
                more_url=more_url,
                less_url=less_url,
                discovery=opportunity_id in discovery_ids,
            )
        )
    context = {
        "greeting_name": user["display_name"] or user["username"],
        "mediums": ", ".join(MEDIUMS.get(m, m) for m in user["mediums"] or ()),
        "items": items,
        "general_picks": general,
        "profile_url": settings.DIGEST_PROFILE_URL,
        "view_all_url": _view_all_url(site_url),
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url(user["id"]),
        "footer_address": settings.EMAIL_FOOTER_ADDRESS,
        "open_pixel_url": (
            _link("digests:open", tokens.open_token(digest_id), site_url=site_url)
            if digest_id is not None
            else ""
        ),
    }
    # RFC 8058 one-click unsubscribe: mail clients POST to this URL with no cookie.
    return context, marketing_headers(unsubscribe_url)


def digest_email_for_picks(
    *, user: dict, digest_id: int | None, picks: list, cards: DigestCards
) -> tuple[dict, dict]:
    """digest_email_context for a reader's picks (recommender Picks, in order): whether they
    are general picks and which are discoveries is read from the picks themselves."""
    return digest_email_context(
        user=user,
        digest_id=digest_id,
        opportunity_ids=[pick.item_id for pick in picks],
        cards=cards,
        general=are_general(picks),
        discovery_ids={pick.item_id for pick in picks if pick.discovery},
    )
