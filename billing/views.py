import logging

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.exceptions import BillingError
from billing.services.stripe_events import stripe_event_verify
from proletto.errors import error_response
from proletto.inbox.services import inbox_store

logger = logging.getLogger(__name__)


@csrf_exempt  # authenticated by the Stripe-Signature header instead
@require_POST
def stripe_webhook(request):
    """Verify the signature, keep the event in the inbox and answer at once; process_inbox
    applies it (billing/inbox.py). A database that cannot take it answers 500: Stripe retries."""
    try:
        event = stripe_event_verify(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
    except BillingError as exc:
        logger.warning("stripe webhook rejected (%s): %s", exc.status, exc)
        return error_response(exc)
    stored, created = inbox_store(
        source="stripe",
        kind=event["type"],
        external_id=event["id"],
        body=request.body,
        headers={"Content-Type": request.content_type or ""},
        signature="Stripe-Signature verified",
    )
    logger.info(
        "stripe event %s (%s) %s as inbox event %s",
        event["id"],
        event["type"],
        "stored" if created else "already stored",
        stored.pk,
    )
    return JsonResponse({"status": "stored" if created else "already stored", "id": stored.pk})
