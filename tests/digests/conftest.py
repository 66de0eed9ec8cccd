"""A real HTTP server on 127.0.0.1 serving the demo sources and hostile responses."""

import datetime as dt
import hashlib
import threading
from dataclasses import dataclass, field
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from digests.demo import HTML_LISTING_CONFIG, render_demo_source
from digests.models import OpportunitySource

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The demo files' deadlines are relative to this day (tests travel in time from here).
TODAY = dt.date(2026, 11, 23)
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "text/plain"
    status: int = 200
    headers: dict = field(default_factory=dict)
    # Seconds to stall before answering (a slow server); released at teardown.
    stall: float = 0.0
    # Honour If-None-Match with a 304.
    conditional: bool = True
    # Send no Content-Length: the body ends when the connection closes.
    omit_length: bool = False


class FeedServer:
    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict]] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, dict(self.headers)))
                route = server.routes.get(self.path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "9")
                    self.end_headers()
                    self.wfile.write(b"not found")
                    return
                if route.stall:
                    server.release.wait(route.stall)
                etag = '"' + hashlib.sha256(route.body).hexdigest()[:16] + '"'
                if route.conditional and route.status == 200:
                    if self.headers.get("If-None-Match") == etag:
                        self.send_response(304)
                        self.send_header("ETag", etag)
                        self.end_headers()
                        return
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                if route.status == 200 and route.conditional:
                    self.send_header("ETag", etag)
                    self.send_header("Last-Modified", format_datetime(NOW, usegmt=True))
                for name, value in route.headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in route.headers and not route.omit_length:
                    self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                try:
                    self.wfile.write(route.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def serve(self, path: str, body, content_type="text/plain", **options) -> str:
        if isinstance(body, str):
            body = body.encode()
        self.routes[path] = Route(body=body, content_type=content_type, **options)
        return self.url(path)

    def serve_demo(self, name: str, *, today=TODAY) -> str:
        body, content_type = render_demo_source(name, today=today)
        return self.serve(f"/demo/{name}", body, content_type)

    def serve_fixture(self, name: str, content_type="application/xml") -> str:
        return self.serve(f"/fixtures/{name}", (FIXTURES / name).read_bytes(), content_type)

    def requests_to(self, path: str) -> list[dict]:
        return [headers for requested, headers in self.requests if requested == path]


@pytest.fixture
def feed_server():
    server = FeedServer()
    server.thread.start()
    yield server
    server.release.set()
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def scrape_settings(settings):
    settings.SCRAPE_TIMEOUT_SECONDS = 2
    settings.SCRAPE_MAX_BYTES = 200_000
    settings.SCRAPE_MAX_REDIRECTS = 3
    settings.SCRAPE_MAX_IN_FLIGHT = 4
    settings.SITE_URL = "https://proletto.test"
    settings.SCRAPE_USER_AGENT = "Proletto/1.0 (+https://proletto.test)"
    # These tests scrape servers on 127.0.0.1: they opt in, as `make demo` does.
    settings.SCRAPE_ALLOW_PRIVATE_NETWORKS = True
    return settings


@pytest.fixture
def make_source(db, scrape_settings):
    def make(name, url, kind=OpportunitySource.Kind.FEED, **fields):
        return OpportunitySource.objects.create(name=name, url=url, kind=kind, **fields)

    return make


@pytest.fixture
def demo_sources(feed_server, make_source):
    """The four demo sources, served by the local server."""
    return {
        "rss": make_source("ArtCalls", feed_server.serve_demo("artcalls.rss")),
        "atom": make_source("Residency Atlas", feed_server.serve_demo("residencies.atom")),
        "json_feed": make_source(
            "Grants", feed_server.serve_demo("grants.json"), OpportunitySource.Kind.JSON_FEED
        ),
        "html": make_source(
            "WAAN",
            feed_server.serve_demo("listing.html"),
            OpportunitySource.Kind.HTML,
            config=HTML_LISTING_CONFIG,
            timezone="Africa/Accra",
        ),
    }
