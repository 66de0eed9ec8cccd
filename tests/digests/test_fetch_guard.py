"""One deadline per fetch, whatever the other side drips; no fetch of an internal address.

Real sockets on 127.0.0.x: a server that drips its headers or its body a byte at a time,
and a source that redirects to a service on 127.0.0.1 (issue 15 published such a service's
"INTERNAL-SECRET" on the public opportunities page).
"""

import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from digests.checks import check_scrape_settings
from digests.scraping.fetch import FetchError, FetchPolicy, fetch
from digests.scraping.guard import address_refusal

DRIP_EVERY = 0.05  # seconds between bytes: far below any per-read timeout


def policy(**overrides) -> FetchPolicy:
    values = {
        "user_agent": "Proletto-test",
        "timeout": 1.0,
        "max_bytes": 10_000_000,
        "max_redirects": 3,
        "allow_private_networks": False,
    }
    return FetchPolicy(**{**values, **overrides})


class DripServer:
    """Answers every connection with `head`, then drips `drip` one byte at a time, forever
    (until the client goes away or the test ends)."""

    def __init__(self, head: bytes, drip: bytes):
        self.head, self.drip = head, drip
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/feed"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(self.head)
                while not self.stop.wait(DRIP_EVERY):
                    conn.sendall(self.drip)
            except OSError:
                return  # the client cut the connection: what the test wants

    def close(self):
        self.stop.set()
        self.listener.close()


@pytest.fixture
def drip_server():
    servers = []

    def start(head: bytes, drip: bytes) -> DripServer:
        servers.append(DripServer(head, drip))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_a_body_that_drips_is_cut_at_the_deadline(drip_server):
    server = drip_server(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n\r\n", b"<")
    with pytest.raises(FetchError, match=r"^timed out after 1s$"):
        fetch(server.url, policy=policy(allow_private_networks=True))


def test_headers_that_drip_are_cut_at_the_deadline(drip_server):
    server = drip_server(b"HTTP/1.1 200 OK\r\nX-Slow: ", b"a")
    with pytest.raises(FetchError, match=r"^timed out after 1s$"):
        fetch(server.url, policy=policy(allow_private_networks=True))


class Site:
    """An HTTP server on `host`: a fixed answer per path, and the paths it was asked for."""

    def __init__(self, host: str, routes: dict):
        self.asked: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                site.asked.append(self.path)
                status, headers, body = routes[self.path]
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.base = f"http://{host}:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def internal_service():
    """What must never be fetched: a service on 127.0.0.1 holding a secret."""
    site = Site("127.0.0.1", {"/secret": (200, {}, b"INTERNAL-SECRET db_password=hunter2")})
    yield site
    site.close()


def test_a_redirect_to_127_0_0_1_is_refused(internal_service):
    # The source itself is on 127.0.0.2, a network the operator allows; its redirect is not.
    source = Site(
        "127.0.0.2", {"/feed": (302, {"Location": f"{internal_service.base}/secret"}, b"")}
    )
    try:
        with pytest.raises(FetchError) as refused:
            fetch(
                f"{source.base}/feed",
                policy=policy(allowed_networks=(ipaddress.ip_network("127.0.0.2/32"),)),
            )
    finally:
        source.close()
    assert str(refused.value).startswith("refused: 127.0.0.1 resolves to a loopback address")
    assert source.asked == ["/feed"]
    assert internal_service.asked == []


def test_a_private_source_url_is_refused_before_any_connection(internal_service):
    with pytest.raises(FetchError, match="^refused: .* loopback address"):
        fetch(f"{internal_service.base}/secret", policy=policy())
    assert internal_service.asked == []


def test_the_refusal_names_the_rule_not_the_address_a_name_resolves_to():
    with pytest.raises(FetchError) as refused:
        fetch("http://localhost:5432/", policy=policy())
    message = str(refused.value)
    assert message.startswith("refused: localhost resolves to a loopback address")
    assert "127.0.0.1" not in message and "::1" not in message


def test_the_cloud_metadata_address_is_refused():
    with pytest.raises(FetchError, match="link-local address"):
        fetch("http://169.254.169.254/latest/meta-data/", policy=policy())


def test_allowing_private_networks_lets_the_fetch_through(internal_service):
    fetched = fetch(f"{internal_service.base}/secret", policy=policy(allow_private_networks=True))
    assert fetched.body.startswith(b"INTERNAL-SECRET")


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.0.0.7", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "private"),
        ("100.64.0.1", "not globally routable"),
        ("93.184.215.14", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_each_address_is_judged_by_its_rule(address, rule):
    assert address_refusal(address, allow_private=False) == rule


def test_a_bad_allowed_network_fails_the_system_check(settings):
    settings.SCRAPE_ALLOWED_PRIVATE_NETWORKS = ["10.0.0.0/8", "intranet"]
    assert [error.id for error in check_scrape_settings(None)] == ["digests.E009"]


@pytest.fixture
def self_signed_https(tmp_path):
    """An HTTPS server on 127.0.0.1 with a certificate no public authority signed."""
    import datetime as dt
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    site = Site("127.0.0.1", {"/feed": (200, {}, b"<rss/>")})
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    site.httpd.socket = context.wrap_socket(site.httpd.socket, server_side=True)
    yield site.base.replace("http://", "https://")
    site.close()


def test_an_https_source_must_have_a_certificate_valid_for_its_host(self_signed_https):
    with pytest.raises(FetchError, match="^could not connect: the TLS certificate is not valid"):
        fetch(f"{self_signed_https}/feed", policy=policy(allow_private_networks=True))


def test_a_redirect_to_another_scheme_is_refused():
    source = Site("127.0.0.1", {"/feed": (302, {"Location": "file:///etc/passwd"}, b"")})
    try:
        with pytest.raises(FetchError, match=r"only http\(s\) is fetched"):
            fetch(f"{source.base}/feed", policy=policy(allow_private_networks=True))
    finally:
        source.close()
