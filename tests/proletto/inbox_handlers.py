"""Inbox handlers for tests (INBOX_HANDLER_MODULES = ["tests.proletto.inbox_handlers"])."""

from proletto.inbox.registry import InboxRejected

applied: list[bytes] = []


def apply_ok(event) -> str:
    applied.append(bytes(event.body))
    return f"applied {bytes(event.body).decode()}"


def apply_boom(event) -> str:
    raise RuntimeError("handler bug")


def apply_unparsable(event) -> str:
    raise InboxRejected("not a payload we know")


HANDLERS = {"test:ok": apply_ok, "test:boom": apply_boom, "test:unparsable": apply_unparsable}
