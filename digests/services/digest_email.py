"""The weekly digest email's template context, headers and signed links, for one reader."""

import functools

from django.conf import settings
from django.urls import reverse

from digests import tokens
from digests.general_picks import are_general
from digests.rendering import DigestCards
from outreach.consent import marketing_headers
from proletto.preferences_link import preferences_url
from proletto.vocabulary import MEDIUMS


@functools.lru_cache(maxsize=32)
def _link_template(name: str, site_url: str) -> str:
    # reverse() once per URL name and run: the token is the only part that varies.
    return site_url + reverse(name, args=["TOKEN"])


@functools.lru_cache(maxsize=4)
def _view_all_url(site_url: str) -> str:
    return site_url + reverse("digests:opportunities")


def _link(name: str, token: str) -> str:
    return _link_template(name, settings.SITE_URL).replace("TOKEN", token)


@functools.lru_cache(maxsize=8)
def _feedback_link_template(signal: str, site_url: str) -> str:
    return site_url + reverse("digests:feedback", args=[signal, "TOKEN"])


def _feedback_link(signal: str, token: str) -> str:
    return _feedback_link_template(signal, settings.SITE_URL).replace("TOKEN", token)


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
    unsubscribe_url = _link("digests:unsubscribe", tokens.unsubscribe_token(user["id"]))
    items = []
    for opportunity_id in opportunity_ids:
        card = cards[opportunity_id]
        if digest_id is None:
            click_url = card.url
            more_url = _feedback_link("more", tokens.REDACTED)
            less_url = _feedback_link("less", tokens.REDACTED)
        else:
            click_url = _link("digests:click", tokens.click_token(digest_id, opportunity_id))
            more_url = _feedback_link(
                "more", tokens.feedback_token(digest_id, opportunity_id, "more")
            )
            less_url = _feedback_link(
                "less", tokens.feedback_token(digest_id, opportunity_id, "less")
            )
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
        "view_all_url": _view_all_url(settings.SITE_URL),
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url(user["id"]),
        "footer_address": settings.EMAIL_FOOTER_ADDRESS,
        "open_pixel_url": (
            _link("digests:open", tokens.open_token(digest_id)) if digest_id is not None else ""
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
