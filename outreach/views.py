"""ESP webhooks (Anymail's tracking and inbound views): authenticate, keep, answer.

Anymail's own view authenticates, parses and dispatches its signal inside the request, so a
bug of ours in a receiver answers the ESP with an error and the events are lost for good.
Here the view's validators run (basic auth, the ESP's signature) and the raw request goes to
the inbox in one short transaction; process_inbox parses it with the same Anymail view and
sends the signal later (outreach/inbox.py). Nothing unauthenticated is stored; a database
that cannot take the request answers 500, which every ESP retries.
"""

import logging

from anymail.exceptions import AnymailWebhookValidationFailure
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from proletto.inbox.services import inbox_store

logger = logging.getLogger(__name__)

# Request metadata never kept: credentials, and what only the transport needs.
_UNSTORED_HEADERS = {"HTTP_AUTHORIZATION", "HTTP_COOKIE", "HTTP_PROXY_AUTHORIZATION"}


def stored_request_meta(request) -> dict:
    """What a parser may read besides the body: the path, the query string, content type and
    the ESP's headers (signature headers included, for the record), never credentials."""
    meta = {
        key: value
        for key, value in request.META.items()
        if key.startswith("HTTP_") and key not in _UNSTORED_HEADERS and isinstance(value, str)
    }
    meta["CONTENT_TYPE"] = request.META.get("CONTENT_TYPE", "")
    meta["PATH_INFO"] = request.path_info
    meta["QUERY_STRING"] = request.META.get("QUERY_STRING", "")
    return meta


def webhook_not_configured() -> JsonResponse | None:
    """A 503 while the webhook cannot authenticate its caller (no secret, DEBUG off), else None.

    Anymail itself only warns and then believes anyone: one forged bounce would suppress any
    address. Development (DEBUG on) may run without a secret.
    """
    if settings.DEBUG or settings.ANYMAIL.get("WEBHOOK_SECRET"):
        return None
    logger.error("ESP webhook refused: ANYMAIL_WEBHOOK_SECRET is not configured")
    return JsonResponse(
        {
            "error": "ANYMAIL_WEBHOOK_SECRET is not configured: this webhook refuses every "
            "event until it can authenticate the ESP"
        },
        status=503,
    )


def inbox_webhook(anymail_view, *, source: str):
    """Anymail's view `anymail_view` (from as_view()), storing instead of dispatching."""
    view_class, initkwargs = anymail_view.view_class, anymail_view.view_initkwargs

    @csrf_exempt
    def view(request, *args, **kwargs):
        refusal = webhook_not_configured()
        if refusal is not None:
            return refusal
        if request.method != "POST":
            return anymail_view(request, *args, **kwargs)  # HEAD/OPTIONS probes, 405s
        try:
            # Read first: a validator or parser that reads request.POST must not consume
            # the stream before the body is kept.
            body = request.body
        except RequestDataTooBig as exc:
            return JsonResponse({"error": f"request too large: {exc}"}, status=413)
        webhook = view_class(**initkwargs)
        webhook.setup(request, *args, **kwargs)
        try:
            webhook.run_validators(request)
        except AnymailWebhookValidationFailure as exc:
            logger.warning("ESP webhook refused: %s", exc)
            return JsonResponse({"error": f"webhook authentication failed: {exc}"}, status=403)
        event, created = inbox_store(
            source=source,
            kind=source.rsplit(":", 1)[-1],
            body=body,
            headers=stored_request_meta(request),
            signature=f"Anymail {webhook.esp_name} webhook validators passed",
        )
        return JsonResponse({"status": "stored" if created else "already stored", "id": event.pk})

    return view
