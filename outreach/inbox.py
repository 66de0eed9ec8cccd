"""ESP webhook requests kept by the inbox (outreach/views.py), applied by process_inbox:
parsed again by the same Anymail view, then Anymail's signal is sent as Anymail would
(tracking events reach outreach.signals.record_tracking_event)."""

import io

from anymail.exceptions import AnymailError
from django.core.handlers.wsgi import WSGIRequest
from django.db import transaction

from outreach.errors import OutboxError
from outreach.urls import anymail_sources
from proletto.inbox.registry import InboxRejected
from proletto.models import InboundEvent


def stored_request(event: InboundEvent) -> WSGIRequest:
    """The authenticated request as it arrived (body, path, content type, ESP headers)."""
    body = bytes(event.body)
    environ = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "SERVER_NAME": "inbox.invalid",
        "SERVER_PORT": "443",
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        **event.headers,
    }
    return WSGIRequest(environ)


def anymail_handler(anymail_view):
    view_class, initkwargs = anymail_view.view_class, anymail_view.view_initkwargs

    def apply(event: InboundEvent) -> str:
        webhook = view_class(**initkwargs)
        request = stored_request(event)
        webhook.setup(request)
        try:
            esp_events = webhook.parse_events(request)
        except (AnymailError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InboxRejected(f"{webhook.esp_name} payload: {type(exc).__name__}: {exc}") from exc
        try:
            # A batch is applied whole or not at all; each event's id is its dedupe record.
            with transaction.atomic():
                for esp_event in esp_events:
                    webhook.signal.send(
                        sender=view_class, event=esp_event, esp_name=webhook.esp_name
                    )
        except OutboxError as exc:
            raise InboxRejected(str(exc)) from exc
        return f"{len(esp_events)} {webhook.esp_name} event(s) applied"

    return apply


HANDLERS = {
    source: anymail_handler(pattern.callback) for source, pattern in anymail_sources().items()
}
