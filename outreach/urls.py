"""Anymail's tracking and inbound webhooks (/anymail/<esp>/tracking/, .../inbound/), routed
through the inbox by outreach.views.inbox_webhook.

Included before anymail.urls, so these patterns answer first. Views that override Anymail's
`post` (Amazon SES confirms its SNS subscription in the request) stay Anymail's own.
"""

from anymail import urls as anymail_urls
from anymail.webhooks.base import AnymailCoreWebhookView
from django.urls import URLPattern

from outreach.views import inbox_webhook

app_name = "outreach"


def anymail_sources() -> dict[str, URLPattern]:
    """Inbox source ("anymail:<esp>:tracking" / "...:inbound") -> Anymail's URL pattern."""
    sources = {}
    for pattern in anymail_urls.urlpatterns:
        view_class = getattr(pattern.callback, "view_class", None)
        if view_class is None or view_class.post is not AnymailCoreWebhookView.post:
            continue
        esp, _, kind = (pattern.name or "").removesuffix("_webhook").rpartition("_")
        if esp and kind in ("tracking", "inbound"):
            sources[f"anymail:{esp}:{kind}"] = pattern
    return sources


urlpatterns = [
    URLPattern(pattern.pattern, inbox_webhook(pattern.callback, source=source), name=pattern.name)
    for source, pattern in anymail_sources().items()
]
