import logging

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.exceptions import BillingError
from billing.services.stripe_events import stripe_event_process, stripe_event_verify

logger = logging.getLogger(__name__)


@csrf_exempt  # authenticated by the Stripe-Signature header instead
@require_POST
def stripe_webhook(request):
    try:
        event = stripe_event_verify(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
        outcome = stripe_event_process(event=event)
    except BillingError as exc:
        logger.warning("stripe webhook rejected (%s): %s", exc.status, exc)
        return JsonResponse({"error": str(exc)}, status=exc.status)
    logger.info("stripe event %s (%s): %s", event["id"], event["type"], outcome)
    return JsonResponse({"status": "ok", "outcome": outcome})
