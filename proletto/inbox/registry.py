"""The handler registry: every app declares what applies its stored webhook requests in
`<app>/inbox.py` as

    HANDLERS = {"stripe": apply_stripe_event}

A handler takes the stored `InboundEvent`, applies it (inside the transaction that marks it
applied) and returns its outcome in a few words. It raises `InboxRejected` when the payload
itself cannot be parsed (kept as rejected, with the reason); any other exception is a failure
that is retried with backoff, then held for a replay. The core imports no app: the modules
are discovered like the jobs (proletto/scheduling/registry.py).
"""

import importlib
from collections.abc import Callable

from django.apps import apps
from django.conf import settings

from proletto.models import InboundEvent

Handler = Callable[[InboundEvent], str]


class InboxRejected(Exception):
    """The stored payload cannot be parsed: retrying it would fail the same way."""


class DuplicateInboxSource(Exception):
    pass


def _handler_modules() -> list[str]:
    explicit = getattr(settings, "INBOX_HANDLER_MODULES", None)
    if explicit:
        return list(explicit)
    return [f"{app_config.name}.inbox" for app_config in apps.get_app_configs()]


def inbox_handlers() -> dict[str, Handler]:
    """Every declared handler, by source (the installed apps' inbox.py)."""
    handlers: dict[str, Handler] = {}
    for module_name in _handler_modules():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        for source, handler in getattr(module, "HANDLERS", {}).items():
            if source in handlers:
                raise DuplicateInboxSource(f"inbox source {source!r} is declared twice")
            handlers[source] = handler
    return handlers
