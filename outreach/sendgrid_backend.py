"""Anymail's SendGrid backend, posting through urllib3 instead of a requests Session.

Anymail builds the message and reads SendGrid's answer as always; only the HTTP call differs
(and the From address is parsed once per address, not once per email).
A requests Session merges settings, hooks, cookies and redirects, and re-reads the CA bundle
path, for every request: about a third of the relay's CPU per email. Here each backend (one
per relay sender thread) keeps one urllib3 PoolManager, configured once when it opens:
- proxies and the CA bundle come from the environment once, as requests would read them
  (HTTPS_PROXY/NO_PROXY, REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE, else certifi's bundle);
- its connections are the ones outreach/esp_deadline.py can cut, so the relay's wall-clock
  deadline still ends a request whatever the ESP drips;
- failures are raised as the requests exceptions requests would raise (wrapped by Anymail's
  AnymailRequestsAPIError, as Anymail does), so outreach/services/sending.py tells a request
  that may have reached the ESP from one that never left, as before.
Requests the pool does not handle (files, query parameters, auth objects, Anymail's debug
dump) go through Anymail's own requests path.
"""

import functools
import json
import os
from urllib.parse import urlsplit

import requests
import requests.adapters
import urllib3
from anymail.backends.sendgrid import EmailBackend as AnymailSendGridBackend
from anymail.backends.sendgrid import SendGridPayload
from anymail.exceptions import AnymailRequestsAPIError
from anymail.utils import parse_address_list
from requests.utils import DEFAULT_CA_BUNDLE_PATH, select_proxy
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.exceptions import HTTPError as Urllib3HTTPError
from urllib3.exceptions import ProxyError as Urllib3ProxyError
from urllib3.exceptions import SSLError as Urllib3SSLError

from outreach.esp_deadline import DEADLINE_POOL_CLASSES

# As requests: no retry inside the request (the relay retries), connect errors counted once.
NO_RETRIES = urllib3.Retry(0, read=False, redirect=False)


class EspResponse:
    """What Anymail reads of an HTTP answer (status, reason, headers, body as text or JSON)."""

    def __init__(self, response: urllib3.BaseHTTPResponse, url: str):
        self.status_code = response.status
        self.reason = response.reason
        self.headers = response.headers
        self.content = response.data
        self.url = url

    @property
    def text(self) -> str:
        content_type = self.headers.get("Content-Type", "")
        charset = "utf-8"
        for part in content_type.split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value:
                charset = value.strip("\"'")
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:  # an unknown charset name
            return self.content.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.content)


@functools.lru_cache(maxsize=64)
def _parsed_sender(address: str) -> tuple:
    return tuple(parse_address_list(address, field="from_email"))


def _parse_sender(value) -> list:
    """Anymail's parse of the From address, kept per address: every email of the outbox has
    the same sender, and parsing it (email.headerregistry) cost ~0.06 ms an email. The
    parsed addresses are immutable, so they are shared between messages and threads."""
    if isinstance(value, str):
        return list(_parsed_sender(value))
    return parse_address_list(value, field="from_email")


class _Payload(SendGridPayload):
    base_message_attrs = tuple(
        (attr, combiner, _parse_sender if attr == "from_email" else converter)
        for attr, combiner, converter in SendGridPayload.base_message_attrs
    )


class SendGridBackend(AnymailSendGridBackend):
    """Anymail's SendGrid backend with one urllib3 pool per backend instance."""

    def build_message_payload(self, message, defaults):
        return _Payload(message, defaults, self)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pool = None
        self._headers: dict = {}

    def open(self):
        created = super().open()
        if self.pool is None and self.session is not None:
            self.pool = esp_pool(self.api_url, self.session)
            # The session's own headers (Anymail's User-Agent), as requests would send them.
            self._headers = dict(self.session.headers)
        return created

    def close(self):
        pool, self.pool = self.pool, None
        try:
            if pool is not None:
                pool.clear()
        finally:
            super().close()

    def post_to_esp(self, payload, message):
        params = payload.get_request_params(self.api_url)
        if (
            self.pool is None
            or self.debug_api_requests
            or params.get("files")
            or params.get("params")
            or params.get("auth")
        ):
            return super().post_to_esp(payload, message)
        url = params["url"]
        data = params["data"]
        body = data.encode("utf-8") if isinstance(data, str) else data
        timeout = params.get("timeout", self.timeout)
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        try:
            response = _urlopen(
                self.pool,
                params["method"],
                url,
                body=body,
                headers={**self._headers, **(params.get("headers") or {})},
                timeout=urllib3.Timeout(connect=connect, read=read),
            )
        except requests.RequestException as err:
            # As Anymail: an error that is both its own and the requests error.
            exc_class = type("AnymailRequestsAPIError", (AnymailRequestsAPIError, type(err)), {})
            raise exc_class(
                f"Error posting to {url}:", email_message=message, payload=payload
            ) from err
        esp_response = EspResponse(response, url)
        self.raise_for_status(esp_response, payload, message)
        return esp_response


def esp_pool(url: str, session: requests.Session) -> urllib3.PoolManager | None:
    """A pool for `url` with the proxy and CA bundle requests would use, read once; None
    (send through requests, as Anymail does) for a proxy urllib3 cannot speak (SOCKS)."""
    environment = session.merge_environment_settings(url, {}, None, None, None)
    verify = environment["verify"]
    options: dict = {"num_pools": 2, "maxsize": 1, "block": False}
    if verify is False:
        options["cert_reqs"] = "CERT_NONE"
    else:
        bundle = DEFAULT_CA_BUNDLE_PATH if verify is True else verify
        options["cert_reqs"] = "CERT_REQUIRED"
        options["ca_cert_dir" if os.path.isdir(bundle) else "ca_certs"] = bundle
    proxy = select_proxy(url, environment["proxies"])
    if proxy and urlsplit(url).hostname:
        if urlsplit(proxy).scheme not in ("http", "https"):
            return None
        # The user and password in the proxy's URL, sent as requests sends them.
        auth = requests.adapters.HTTPAdapter().proxy_headers(proxy)
        pool = urllib3.ProxyManager(proxy, proxy_headers=auth, **options)
    else:
        pool = urllib3.PoolManager(**options)
    pool.pool_classes_by_scheme = DEADLINE_POOL_CLASSES
    return pool


def _urlopen(pool, method, url, **kwargs) -> urllib3.BaseHTTPResponse:
    """pool.request, failing with the exception requests would raise for the same fault."""
    try:
        return pool.request(
            method, url, redirect=False, retries=NO_RETRIES, preload_content=True, **kwargs
        )
    except MaxRetryError as err:
        reason = err.reason
        if isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError):
            raise requests.ConnectTimeout(err) from err
        if isinstance(reason, Urllib3ProxyError):
            raise requests.exceptions.ProxyError(err) from err
        if isinstance(reason, Urllib3SSLError):
            raise requests.exceptions.SSLError(err) from err
        raise requests.ConnectionError(err) from err
    except Urllib3ProxyError as err:
        raise requests.exceptions.ProxyError(err) from err
    except Urllib3SSLError as err:
        raise requests.exceptions.SSLError(err) from err
    except ReadTimeoutError as err:
        raise requests.ReadTimeout(err) from err
    except (ProtocolError, ClosedPoolError, OSError) as err:
        raise requests.ConnectionError(err) from err
    except Urllib3HTTPError as err:
        raise requests.RequestException(err) from err
