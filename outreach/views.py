"""ESP tracking webhooks: Anymail's own views, with clear 4xx answers and all-or-nothing writes.

Anymail answers a malformed payload with a 500 (the ESP then retries it forever) and applies
a batch event by event; here a batch is applied in one transaction or not at all.
"""

import logging
from functools import wraps

from anymail.exceptions import AnymailWebhookValidationFailure
from django.conf import settings
from django.db import transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from outreach.errors import OutboxError

logger = logging.getLogger(__name__)


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


def tracking_webhook(view):
    @csrf_exempt
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        refusal = webhook_not_configured()
        if refusal is not None:
            return refusal
        try:
            with transaction.atomic():
                return view(request, *args, **kwargs)
        except AnymailWebhookValidationFailure as exc:
            logger.warning("ESP webhook refused: %s", exc)
            return JsonResponse({"error": f"webhook authentication failed: {exc}"}, status=403)
        except (ValueError, KeyError, TypeError, AttributeError, OutboxError) as exc:
            logger.warning("ESP webhook with a malformed payload: %s: %s", type(exc).__name__, exc)
            return JsonResponse(
                {"error": f"malformed event payload: {type(exc).__name__}: {exc}"}, status=400
            )

    return wrapped
