"""HTTP for sources: one wall-clock deadline per fetch, checked addresses, a clear
User-Agent, conditional GET, a size limit and bounded redirects.

Built on the standard library's http.client over a socket opened here, because both rules
need the socket. The deadline: requests' timeout bounds each read, so a server dripping a
byte every half second (in the headers or the body) held a fetch, and the scheduled scrape,
for minutes; here a watchdog shuts the socket when the fetch's time is up, whatever phase it
is in. The addresses: requests resolves the name itself when it connects, so a check made
before could be about another address; here the connection goes to the address checked
(digests.scraping.guard), at the first request and at every redirect.
"""

import http.client
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as ResolveTimeout
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import certifi

from .guard import address_refusal

REDIRECT_STATUSES = {301, 302, 303, 307, 308}
CHUNK_BYTES = 64 * 1024
# getaddrinfo cannot be given a timeout: it runs here, and the fetch waits for it only as
# long as its deadline allows.
_resolver = ThreadPoolExecutor(max_workers=8, thread_name_prefix="resolve")


class FetchError(Exception):
    """A source could not be fetched; the message is one line for the admin."""


@dataclass(frozen=True)
class FetchPolicy:
    user_agent: str
    timeout: float  # for the whole fetch: resolving, connecting, redirects, headers, body
    max_bytes: int
    max_redirects: int
    allow_private_networks: bool = False
    # Private networks fetched all the same (SCRAPE_ALLOWED_PRIVATE_NETWORKS).
    allowed_networks: tuple = ()


@dataclass(frozen=True)
class Fetched:
    not_modified: bool
    body: bytes
    url: str
    content_type: str
    etag: str
    last_modified: str


class _Exchange:
    """The deadline of one fetch, and the watchdog that cuts its sockets when it passes."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def timed_out(self) -> FetchError:
        return FetchError(f"timed out after {self.seconds:g}s")

    def remaining(self) -> float:
        left = self.ends - time.monotonic()
        if left <= 0 or self.expired:
            raise self.timed_out()
        return left

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                self._cut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._cut(sock)

    @staticmethod
    def _cut(sock: socket.socket) -> None:
        # The plain socket's shutdown, also for a TLS socket: it wakes a blocked read at once,
        # where SSLSocket.shutdown would pull the TLS state from under the reading thread.
        try:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        self._timer.cancel()


def fetch(url: str, *, policy: FetchPolicy, etag: str = "", last_modified: str = "") -> Fetched:
    exchange = _Exchange(policy.timeout)
    try:
        return _fetch(url, policy=policy, exchange=exchange, etag=etag, last_modified=last_modified)
    except FetchError:
        if exchange.expired:
            raise exchange.timed_out() from None
        raise
    except (OSError, http.client.HTTPException) as exc:
        if exchange.expired or isinstance(exc, TimeoutError):
            raise exchange.timed_out() from exc
        raise FetchError(_describe(exc)) from exc
    finally:
        exchange.close()


def _fetch(url, *, policy: FetchPolicy, exchange: _Exchange, etag, last_modified) -> Fetched:
    headers = {
        "User-Agent": policy.user_agent,
        "Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
        "application/json, text/html;q=0.9, */*;q=0.5",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    for _hop in range(policy.max_redirects + 1):
        connection, response = _request(url, headers, policy=policy, exchange=exchange)
        try:
            location = response.getheader("Location")
            if response.status in REDIRECT_STATUSES and location:
                url = urljoin(url, location.strip())
                continue
            if response.status == 304:
                return Fetched(
                    not_modified=True,
                    body=b"",
                    url=url,
                    content_type="",
                    etag=response.getheader("ETag", etag),
                    last_modified=response.getheader("Last-Modified", last_modified),
                )
            if response.status >= 400:
                raise FetchError(f"HTTP {response.status} {response.reason or ''}".strip())
            if response.status != 200:
                raise FetchError(f"unexpected HTTP {response.status}")
            body = _read_bounded(response, policy=policy)
            if exchange.expired:  # the watchdog's cut reads as the end of the body
                raise exchange.timed_out()
            return Fetched(
                not_modified=False,
                body=body,
                url=url,
                content_type=response.getheader("Content-Type", ""),
                etag=response.getheader("ETag", ""),
                last_modified=response.getheader("Last-Modified", ""),
            )
        finally:
            connection.close()
    raise FetchError(f"more than {policy.max_redirects} redirects (a loop?)")


def _request(url: str, headers: dict, *, policy: FetchPolicy, exchange: _Exchange):
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FetchError(f"invalid URL {url!r}") from exc
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("http", "https") or not host:
        raise FetchError(f"invalid URL {url!r}: only http(s) is fetched")
    port = port or (443 if scheme == "https" else 80)
    sock = _connect(host, port, policy=policy, exchange=exchange)
    if scheme == "https":
        context = ssl.create_default_context(cafile=certifi.where())
        sock.settimeout(exchange.remaining())
        sock = context.wrap_socket(sock, server_hostname=host)
        exchange.watch(sock)
        connection = http.client.HTTPSConnection(host, port, context=context)
    else:
        connection = http.client.HTTPConnection(host, port)
    # Already connected, to the address checked: http.client must not resolve the name again.
    connection.sock = sock
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        sock.settimeout(exchange.remaining())
        connection.request("GET", target, headers=headers)
        return connection, connection.getresponse()
    except BaseException:
        connection.close()
        raise


def _connect(host: str, port: int, *, policy: FetchPolicy, exchange: _Exchange) -> socket.socket:
    lookup = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        answers = lookup.result(timeout=exchange.remaining())
    except ResolveTimeout as exc:
        raise exchange.timed_out() from exc
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"could not resolve {host}") from exc
    addresses = list(dict.fromkeys((family, sockaddr) for family, _, _, _, sockaddr in answers))
    # Every answer is checked, not just the one used: a name that also resolves inside is
    # refused, whichever address the next lookup would put first.
    for _family, sockaddr in addresses:
        rule = address_refusal(
            sockaddr[0],
            allow_private=policy.allow_private_networks,
            allowed=policy.allowed_networks,
        )
        if rule:
            raise FetchError(
                f"refused: {host} resolves to a {rule} address "
                "(private networks are not fetched: SCRAPE_ALLOW_PRIVATE_NETWORKS)"
            )
    failure: OSError = OSError("no address")
    for family, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        exchange.watch(sock)
        try:
            sock.settimeout(exchange.remaining())
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            failure = exc
    raise failure


def _read_bounded(response: http.client.HTTPResponse, *, policy: FetchPolicy) -> bytes:
    declared = response.getheader("Content-Length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise FetchError(f"response is {int(declared)} bytes, over the {policy.max_bytes} limit")
    chunks, size = [], 0
    while chunk := response.read1(CHUNK_BYTES):
        size += len(chunk)
        if size > policy.max_bytes:
            raise FetchError(f"response is over the {policy.max_bytes} byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _describe(exc: Exception) -> str:
    """A one-line reason that says what failed, not what the other side answered."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "could not connect: the TLS certificate is not valid for this host"
    if isinstance(exc, ssl.SSLError):
        return "could not connect: TLS handshake failed"
    if isinstance(exc, ConnectionRefusedError):
        return "could not connect: connection refused"
    if isinstance(exc, http.client.HTTPException):
        return f"bad HTTP response ({type(exc).__name__})"
    return f"could not connect: {exc.strerror or type(exc).__name__}"
