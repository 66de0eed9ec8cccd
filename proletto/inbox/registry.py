"""The handler registry: every app declares what applies its stored webhook requests in
`<app>/inbox.py` as

    HANDLERS = {"stripe": apply_stripe_event}

A handler takes the stored `InboundEvent`, applies it (inside the transaction that marks it
applied) and returns its outcome in a few words. It raises `InboxRejected` when the payload
itself cannot be parsed (kept as rejected, with the reason); any other exception is a failure
that is retried with backoff, then held for a replay. The core imports no app: the modules
are discovered like the jobs (proletto/scheduling/registry.py).
"""

from collections.abc import Callable

from django.conf import settings

from proletto.discovery import app_modules
from proletto.models import InboundEvent

Handler = Callable[[InboundEvent], str]


class InboxRejected(Exception):
    """The stored payload cannot be parsed: retrying it would fail the same way."""


class DuplicateInboxSource(Exception):
    pass


def inbox_handlers() -> dict[str, Handler]:
    """Every declared handler, by source (the installed apps' inbox.py, or
    INBOX_HANDLER_MODULES)."""
    handlers: dict[str, Handler] = {}
    explicit = getattr(settings, "INBOX_HANDLER_MODULES", None)
    for module in app_modules("inbox", explicit=explicit):
        for source, handler in getattr(module, "HANDLERS", {}).items():
            if source in handlers:
                raise DuplicateInboxSource(f"inbox source {source!r} is declared twice")
            handlers[source] = handler
    return handlers
