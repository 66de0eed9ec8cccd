"""What every marketing email carries so its reader can refuse the next one.

RFC 8058 one-click unsubscribe headers (Gmail's and Yahoo's bulk-sender rules require them on
every marketing message) and a visible unsubscribe link, both to the same signed URL whose
POST stops all marketing at once (digests.views.digest_unsubscribe). outbox_enqueue refuses a
marketing email without the headers.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from proletto.preferences_link import preferences_url

ONE_CLICK = "List-Unsubscribe=One-Click"
# The salt of the signed unsubscribe token. Its value predates marketing beyond the digest
# and stays, so that links in emails already sent keep working. digests.tokens reads these
# tokens (and signs the digest's own, faster, with byte-identical signatures).
UNSUBSCRIBE_SALT = "digests.unsubscribe"
# The URL's name; outreach imports nothing from digests, which serves the page.
UNSUBSCRIBE_URL_NAME = "digests:unsubscribe"


def unsubscribe_token(user_id: int) -> str:
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign(str(user_id))


def unsubscribe_url(user_id: int) -> str:
    return settings.SITE_URL + reverse(UNSUBSCRIBE_URL_NAME, args=[unsubscribe_token(user_id)])


def marketing_headers(url: str) -> dict:
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": ONE_CLICK}


def marketing_extras(*, user_id: int) -> tuple[dict, dict]:
    """(template context, headers) every marketing email to `user_id` needs.

    `preferences_url` is the artist's own signed, expiring link to the preferences page
    (proletto/preferences_link.py).
    """
    url = unsubscribe_url(user_id)
    context = {"unsubscribe_url": url, "preferences_url": preferences_url(user_id)}
    return context, marketing_headers(url)


def has_one_click_headers(headers: dict) -> bool:
    url = headers.get("List-Unsubscribe", "")
    return (
        url.startswith("<http")
        and url.endswith(">")
        and headers.get("List-Unsubscribe-Post") == ONE_CLICK
    )
