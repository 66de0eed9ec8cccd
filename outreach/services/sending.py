"""Sending one outbox row through the ESP, with one wall-clock deadline, and telling what
happened: sent (with the ESP's message id), failed (permanently or not), or *ambiguous* (the
request may have reached the ESP: timed out or dropped after it left)."""

import threading
import uuid
from dataclasses import dataclass

import requests
from anymail.exceptions import AnymailAPIError, AnymailInvalidAddress, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from urllib3.exceptions import NewConnectionError

from outreach.esp_deadline import RequestDeadlines, install_deadline_adapter
from outreach.models import EmailOutbox

# Anymail's SendGrid backend sends every recipient a generated id; dev backends have none.
OUTBOX_ID_HEADER = "X-Proletto-Outbox-Id"


def esp_deadline_seconds() -> float:
    return float(settings.ANYMAIL.get("REQUESTS_TIMEOUT") or settings.EMAIL_TIMEOUT)


@dataclass
class SendResult:
    id: int
    ok: bool
    message_id: str = ""
    error: str = ""
    permanent: bool = False
    # The request may have reached the ESP (timed out, dropped): reconcile before resending.
    ambiguous: bool = False


class EspSender:
    """Sends rows from several threads; each thread keeps its own ESP connection."""

    def __init__(self):
        self._deadlines = RequestDeadlines()
        self._local = threading.local()
        self._connections = []
        self._connections_lock = threading.Lock()

    def close(self) -> list:
        """Stop the deadline watchdog; returns the ESP connections for the caller to close."""
        self._deadlines.close()
        connections, self._connections = self._connections, []
        return connections

    def _connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = get_connection(fail_silently=False)
            connection.open()
            if getattr(connection, "session", None) is not None:
                install_deadline_adapter(connection.session)
                read_environment_once(connection.session, getattr(connection, "api_url", ""))
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    def send(self, row: EmailOutbox) -> SendResult:
        """Send one row's email; never raises for the ESP's answer, tells what happened."""
        message = EmailMultiAlternatives(
            subject=row.subject,
            body=row.body_text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[row.recipient],
            headers={**row.headers, OUTBOX_ID_HEADER: str(row.id)},
            connection=self._connection(),
        )
        if row.body_html:
            message.attach_alternative(row.body_html, "text/html")
        # Anymail passes metadata to the ESP, which returns it with every event: an event
        # for a send whose answer never came (a timeout) still finds its row.
        message.metadata = {"outbox_id": str(row.id)}
        deadline = esp_deadline_seconds()
        with self._deadlines.watch(deadline) as watch:
            try:
                message.send()
            except (AnymailRecipientsRefused, AnymailInvalidAddress) as exc:
                return SendResult(row.id, ok=False, error=_one_line(exc), permanent=True)
            except AnymailAPIError as exc:
                if watch.expired:
                    return SendResult(
                        row.id,
                        ok=False,
                        ambiguous=True,
                        error=f"no complete answer from the ESP within {deadline:g} s",
                    )
                if _maybe_reached_the_esp(exc):
                    return SendResult(row.id, ok=False, ambiguous=True, error=_one_line(exc))
                # 4xx means the ESP will never take this message as it is (bad request, bad
                # key); 408/429 and 5xx and network errors are worth another try.
                status = exc.status_code
                permanent = status is not None and 400 <= status < 500 and status not in (408, 429)
                return SendResult(row.id, ok=False, error=_one_line(exc), permanent=permanent)
            except Exception as exc:  # SMTP or dev backends: unknown failures are retried
                return SendResult(row.id, ok=False, error=_one_line(exc))
        anymail_status = getattr(message, "anymail_status", None)
        if anymail_status is not None and anymail_status.status:
            if anymail_status.status <= {"rejected", "invalid"}:
                return SendResult(
                    row.id,
                    ok=False,
                    permanent=True,
                    error=f"ESP refused the recipient: {', '.join(anymail_status.status)}",
                )
        message_id = (anymail_status.message_id if anymail_status else None) or ""
        return SendResult(row.id, ok=True, message_id=message_id or f"local-{uuid.uuid4()}")


def read_environment_once(session, url: str) -> None:
    """Take the ESP session's proxy and CA bundle settings from the environment now, once.

    With `trust_env`, requests reads every environment variable (proxies, no_proxy, CA
    bundles) and stats ~/.netrc again for every request: a quarter of the relay's CPU per
    email. The environment does not change while a relay runs, so the result is kept on the
    session and the per-request lookup turned off. (~/.netrc is not used: the ESP's API key
    is the credential.)
    """
    environment = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies.update(environment["proxies"])
    session.verify = environment["verify"]
    session.trust_env = False


def _maybe_reached_the_esp(exc: Exception) -> bool:
    """A request that failed after it was sent (read timeout, dropped connection) may have
    been taken by the ESP; one that never connected, or got an HTTP answer, was not."""
    if getattr(exc, "status_code", None) is not None:
        return False
    # Anymail raises its own error from the requests exception that says what happened.
    original = exc.__cause__ if isinstance(exc.__cause__, requests.RequestException) else exc
    if not isinstance(original, requests.RequestException):
        return False
    if isinstance(original, requests.ConnectTimeout):
        return False
    cause = original.args[0] if original.args else None
    reason = getattr(cause, "reason", None)
    return not isinstance(reason, NewConnectionError | ConnectionRefusedError)


def _one_line(exc: Exception) -> str:
    # A NUL byte cannot be stored in a PostgreSQL text column: it would fail the whole
    # group's record statement, and the relay with it.
    text = " ".join(str(exc).replace("\x00", " ").split())
    return f"{type(exc).__name__}: {text}"[:2000]
